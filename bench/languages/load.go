package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var hello = []byte("hello")

// getOnce sends one HTTP/1.0 GET / on a new connection and checks the
// answer is 200 "hello".
func getOnce(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\nHost: " + addr + "\r\n\r\n")); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, []byte("HTTP/1.")) || !bytes.Contains(b[:min(len(b), 16)], []byte(" 200")) || !bytes.HasSuffix(b, hello) {
		return fmt.Errorf("unexpected answer %q", b)
	}
	return nil
}

// loadClose runs conns workers for d, each doing getOnce in a loop (a new
// connection per request, as an HTTP/1.0 server without keep-alive wants).
func loadClose(addr string, conns int, d time.Duration) (float64, error) {
	return parallel(conns, d, func(end time.Time) (int64, error) {
		n := int64(0)
		for time.Now().Before(end) {
			if err := getOnce(addr, 10*time.Second); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	})
}

// loadKeepAlive runs conns HTTP/1.1 keep-alive connections for d, each
// sending GET / and reading the whole answer (Content-Length or chunked).
func loadKeepAlive(addr string, conns int, d time.Duration) (float64, error) {
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	return parallel(conns, d, func(end time.Time) (int64, error) {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.SetDeadline(end)
		r := bufio.NewReader(c)
		n := int64(0)
		for time.Now().Before(end) {
			if _, err := c.Write(req); err != nil {
				return n, ignoreDeadline(err)
			}
			if err := readResponse(r); err != nil {
				return n, ignoreDeadline(err)
			}
			n++
		}
		return n, nil
	})
}

// parallel runs conns workers until d has passed and returns the requests
// per second they did together; the first error (past the deadline: none)
// fails the run.
func parallel(conns int, d time.Duration, work func(end time.Time) (int64, error)) (float64, error) {
	var total atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := work(end)
			total.Add(n)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(total.Load()) / time.Since(start).Seconds(), nil
}

// readResponse reads one HTTP/1.1 response: status 200, body "hello".
func readResponse(r *bufio.Reader) error {
	status, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	length, chunked := -1, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			if length, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("content-length %q", v)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		}
	}
	var body []byte
	switch {
	case chunked:
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 32)
			if err != nil {
				return fmt.Errorf("chunk size %q", line)
			}
			chunk := make([]byte, size+2) // data and CRLF
			if _, err := io.ReadFull(r, chunk); err != nil {
				return err
			}
			if size == 0 {
				break
			}
			body = append(body, chunk[:size]...)
		}
	case length >= 0:
		body = make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
	default:
		return errors.New("response without Content-Length or chunked body on a keep-alive connection")
	}
	if !bytes.Equal(body, hello) {
		return fmt.Errorf("body %q", body)
	}
	return nil
}

func ignoreDeadline(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return err
}
