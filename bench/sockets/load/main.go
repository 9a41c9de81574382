// Command load drives the socket benchmarks (bench/sockets.sh) against a
// server on 127.0.0.1 and prints one number per run. Every mode runs for a
// fixed duration and stops by itself; traffic goes to loopback only.
//
//	load ports N                          print N free loopback TCP ports
//	load wait ADDR TIMEOUT                wait until ADDR accepts connections
//	load pingpong ADDR CONNS DURATION     64-byte round trips per second
//	load bulk ADDR DURATION               echoed MB/s (1e6 bytes) on one connection
//	load http ADDR CONNS DURATION         HTTP/1.1 keep-alive requests per second
//	load idle PID DURATION                CPU of PID over DURATION, % of one core
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: load ports|wait|pingpong|bulk|http|idle ARGS")
		return 2
	}
	res, err := dispatch(args[0], args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "load %s: %v\n", args[0], err)
		return 1
	}
	fmt.Println(res)
	return 0
}

func dispatch(mode string, a []string) (string, error) {
	need := map[string]int{"ports": 1, "wait": 2, "pingpong": 3, "bulk": 2, "http": 3, "idle": 2}
	n, ok := need[mode]
	if !ok {
		return "", fmt.Errorf("unknown mode")
	}
	if len(a) != n {
		return "", fmt.Errorf("want %d arguments, got %d", n, len(a))
	}
	last := func() (time.Duration, error) { return time.ParseDuration(a[n-1]) }
	switch mode {
	case "ports":
		count, err := strconv.Atoi(a[0])
		if err != nil {
			return "", err
		}
		return freePorts(count)
	case "wait":
		d, err := last()
		if err != nil {
			return "", err
		}
		return "ok", waitListening(a[0], d)
	case "idle":
		pid, err := strconv.Atoi(a[0])
		if err != nil {
			return "", err
		}
		d, err := last()
		if err != nil {
			return "", err
		}
		pct, err := idleCPU(pid, d)
		return fmt.Sprintf("%.2f", pct), err
	case "bulk":
		d, err := last()
		if err != nil {
			return "", err
		}
		mbs, err := bulk(a[0], d)
		return fmt.Sprintf("%.1f", mbs), err
	}
	conns, err := strconv.Atoi(a[1])
	if err != nil {
		return "", err
	}
	d, err := last()
	if err != nil {
		return "", err
	}
	var rate float64
	if mode == "pingpong" {
		rate, err = pingPong(a[0], conns, d)
	} else {
		rate, err = httpLoad(a[0], conns, d)
	}
	return fmt.Sprintf("%.0f", rate), err
}

// freePorts returns count distinct ports the kernel handed out for
// 127.0.0.1:0, space separated. They are free again when it returns.
func freePorts(count int) (string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := ""
	for i := 0; i < count; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		ls = append(ls, l)
		if i > 0 {
			out += " "
		}
		out += strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// waitListening dials addr until it connects or timeout passes.
func waitListening(addr string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s not listening after %v: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// timedOut reports whether err is the deadline that ends a measurement.
func timedOut(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
