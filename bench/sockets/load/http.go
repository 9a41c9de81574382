package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// httpLoad runs conns keep-alive connections in parallel, each sending
// "GET /" and reading the whole response, for d. It returns requests per
// second. The client is a minimal HTTP/1.1 reader (status line, headers,
// Content-Length body) so that it costs little next to the server.
func httpLoad(addr string, conns int, d time.Duration) (float64, error) {
	cs, err := dialAll(addr, conns)
	if err != nil {
		return 0, err
	}
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: wasmrun-bench\r\n\r\n")
	var total atomic.Int64
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for _, c := range cs {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			defer c.Close()
			c.SetDeadline(end)
			r := bufio.NewReader(c)
			n := int64(0)
			defer func() { total.Add(n) }()
			for time.Now().Before(end) {
				if _, err := c.Write(req); err != nil {
					errs <- ignoreDeadline(err)
					return
				}
				if err := readResponse(r); err != nil {
					errs <- ignoreDeadline(err)
					return
				}
				n++
			}
			errs <- nil
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return float64(total.Load()) / elapsed.Seconds(), nil
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
