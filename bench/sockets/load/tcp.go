package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const pingSize = 64

// pingPong runs conns connections in parallel, each writing 64 bytes and
// reading the 64-byte echo, for d. It returns round trips per second.
func pingPong(addr string, conns int, d time.Duration) (float64, error) {
	return roundsPerSecond(addr, conns, d, func(c net.Conn) func() error {
		msg := make([]byte, pingSize)
		buf := make([]byte, pingSize)
		return func() error {
			if _, err := c.Write(msg); err != nil {
				return err
			}
			_, err := io.ReadFull(c, buf)
			return err
		}
	})
}

// roundsPerSecond dials conns connections to addr and, on each in
// parallel, runs rounds (a request and its whole reply) one after another
// until d has passed. newRound is called once per connection and returns
// the function that runs one round on it. It returns the completed rounds
// per second of all connections together; the deadline that ends the
// measurement is not an error, any other error of a round is.
func roundsPerSecond(addr string, conns int, d time.Duration, newRound func(c net.Conn) func() error) (float64, error) {
	cs, err := dialAll(addr, conns)
	if err != nil {
		return 0, err
	}
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
			round := newRound(c)
			n := int64(0)
			defer func() { total.Add(n) }()
			for time.Now().Before(end) {
				if err := round(); err != nil {
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

// bulk writes 32 KiB chunks on one connection for d while reading the
// echo back, and returns the echoed megabytes (1e6 bytes) per second.
func bulk(addr string, d time.Duration) (float64, error) {
	cs, err := dialAll(addr, 1)
	if err != nil {
		return 0, err
	}
	c := cs[0]
	defer c.Close()
	start := time.Now()
	end := start.Add(d)
	c.SetDeadline(end)
	werr := make(chan error, 1)
	go func() {
		chunk := make([]byte, 32<<10)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		for {
			if _, err := c.Write(chunk); err != nil {
				werr <- ignoreDeadline(err)
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	var got int64
	var rerr error
	for {
		n, err := c.Read(buf)
		got += int64(n)
		if err != nil {
			rerr = ignoreDeadline(err)
			break
		}
	}
	elapsed := time.Since(start)
	if err := <-werr; err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	if rerr != nil {
		return 0, fmt.Errorf("read: %w", rerr)
	}
	return float64(got) / 1e6 / elapsed.Seconds(), nil
}

func dialAll(addr string, n int) ([]net.Conn, error) {
	cs := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			for _, c := range cs {
				c.Close()
			}
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		c.(*net.TCPConn).SetNoDelay(true)
		cs = append(cs, c)
	}
	return cs, nil
}

func ignoreDeadline(err error) error {
	if timedOut(err) {
		return nil
	}
	return err
}
