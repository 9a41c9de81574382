// Command languages drives bench/languages.sh: it starts an HTTP hello
// server (a command line), times it from launch until it answers its first
// request, optionally loads it for a fixed duration, and kills it. All
// traffic goes to 127.0.0.1; every run stops by itself.
//
//	languages port                                 print a free loopback TCP port
//	languages run [FLAGS] ADDR -- CMD [ARGS...]    print "START_MS [REQ_PER_S]"
//
// Flags of run: -timeout (for the first answer), -load DURATION (0: no
// load), -warmup DURATION (unmeasured load first), -conns N, -close (one request per connection, HTTP/1.0; else
// HTTP/1.1 keep-alive), -pidfile FILE (the server's pid, for the caller's
// trap).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: languages port | run [FLAGS] ADDR -- CMD [ARGS...]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "port":
		err = freePort()
	case "run":
		err = runCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "languages %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 3*time.Minute, "time allowed until the first answer")
	load := fs.Duration("load", 0, "load duration (0: none)")
	warmup := fs.Duration("warmup", 0, "unmeasured load before the measured one")
	conns := fs.Int("conns", 16, "parallel connections of the load")
	closeEach := fs.Bool("close", false, "one HTTP/1.0 request per connection")
	pidfile := fs.String("pidfile", "", "write the server's pid here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) < 3 || rest[1] != "--" {
		return fmt.Errorf("want ADDR -- CMD [ARGS...]")
	}
	addr, argv := rest[0], rest[2:]
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("address %q: loopback only", addr)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		syscall.Kill(pid, syscall.SIGKILL)
		<-exited
		exited <- nil // for a second stop
	}
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		syscall.Kill(pid, syscall.SIGKILL)
		os.Exit(130)
	}()
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			return fmt.Errorf("write pidfile: %w", err)
		}
	}

	startMS, err := firstAnswer(addr, start, *timeout, exited)
	if err != nil {
		return err
	}
	if *load == 0 {
		fmt.Printf("%.0f\n", startMS)
		return nil
	}
	loadFor := func(d time.Duration) (float64, error) {
		if *closeEach {
			return loadClose(addr, *conns, d)
		}
		return loadKeepAlive(addr, *conns, d)
	}
	if *warmup > 0 {
		if _, err := loadFor(*warmup); err != nil {
			return fmt.Errorf("warm-up load: %w", err)
		}
	}
	rps, err := loadFor(*load)
	if err != nil {
		return err
	}
	select {
	case err := <-exited:
		exited <- err
		return fmt.Errorf("server exited during the load: %v", err)
	default:
	}
	fmt.Printf("%.0f %.0f\n", startMS, rps)
	return nil
}

// firstAnswer polls addr until a GET / answers 200 "hello" and returns the
// milliseconds since start.
func firstAnswer(addr string, start time.Time, timeout time.Duration, exited chan error) (float64, error) {
	deadline := start.Add(timeout)
	for {
		select {
		case err := <-exited:
			exited <- err
			return 0, fmt.Errorf("server exited before answering: %v", err)
		default:
		}
		if err := getOnce(addr, time.Second); err == nil {
			return float64(time.Since(start).Microseconds()) / 1000, nil
		} else if time.Now().After(deadline) {
			return 0, fmt.Errorf("no answer from %s within %v: %w", addr, timeout, err)
		}
		time.Sleep(2 * time.Millisecond) // polling a server that is not up yet
	}
}
