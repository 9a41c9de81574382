package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// httpLoad runs conns keep-alive connections in parallel, each sending
// "GET /" and reading the whole response, for d. It returns requests per
// second. The client is a minimal HTTP/1.1 reader (status line, headers,
// Content-Length body) so that it costs little next to the server.
func httpLoad(addr string, conns int, d time.Duration) (float64, error) {
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: wasmrun-bench\r\n\r\n")
	return roundsPerSecond(addr, conns, d, func(c net.Conn) func() error {
		r := bufio.NewReader(c)
		return func() error {
			if _, err := c.Write(req); err != nil {
				return err
			}
			return readResponse(r)
		}
	})
}

// readResponse reads one 200 response with a Content-Length body.
func readResponse(r *bufio.Reader) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		return fmt.Errorf("unexpected status line %q", strings.TrimSpace(line))
	}
	length := -1
	for {
		h, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		h = strings.TrimRight(h, "\r\n")
		if h == "" {
			break
		}
		k, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(k, "Content-Length") {
			if length, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				return fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err = io.CopyN(io.Discard, r, int64(length))
	return err
}
