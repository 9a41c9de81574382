// Command wasigo runs the socket test guests of internal/guests under
// wasmrun and under wasi-go's wasirun (the reference runtime of the WasmEdge
// socket extension, github.com/stealthrocket/wasi-go) and prints a markdown
// table of what works where. bench/wasigo.sh runs it; traffic goes to
// loopback and to Unix sockets in a private directory only.
//
//	wasigo WASMRUN WASIRUN
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// runTimeout bounds one guest run; every scenario ends by itself well before.
const runTimeout = 20 * time.Second

// runtime starts a module with arguments (and a preopened directory, "" for
// none) under one of the two runtimes.
type runtime struct {
	name string
	args func(module, dir string, guestArgs []string) []string
	bin  string
}

// scenario is one guest and what the host does with it.
type scenario struct {
	name  string
	build func() (string, error)
	// run drives the guest started with args; it returns nil when the guest
	// did what the test suite expects of it.
	run func(start func(args ...string) (*guest, error), dir string) error
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: wasigo WASMRUN WASIRUN")
		os.Exit(2)
	}
	runtimes := []runtime{
		{name: "wasmrun", bin: os.Args[1], args: func(module, dir string, a []string) []string {
			out := []string{"run"}
			if dir != "" {
				out = append(out, "--dir", dir)
			}
			return append(append(out, module, "--"), a...)
		}},
		{name: "wasi-go", bin: os.Args[2], args: func(module, dir string, a []string) []string {
			var out []string
			if dir != "" {
				out = append(out, "--dir", dir)
			}
			return append(append(out, module, "--"), a...)
		}},
	}
	fmt.Println("| guest | " + runtimes[0].name + " | " + runtimes[1].name + " |")
	fmt.Println("|---|---|---|")
	failed := false
	for _, sc := range scenarios() {
		module, err := sc.build()
		if err != nil {
			fmt.Fprintf(os.Stderr, "wasigo: build %s: %v\n", sc.name, err)
			os.Exit(1)
		}
		row := "| " + sc.name
		for _, rt := range runtimes {
			res := "works"
			if err := runScenario(sc, rt, module); err != nil {
				res = "fails: `" + strings.ReplaceAll(firstLine(err.Error()), "|", "\\|") + "`"
				if rt.name == "wasmrun" {
					failed = true
				}
			}
			fmt.Fprintf(os.Stderr, "wasigo: %s under %s: %s\n", sc.name, rt.name, res)
			row += " | " + res
		}
		fmt.Println(row + " |")
	}
	if failed {
		os.Exit(1)
	}
}

// runScenario runs sc's guest under rt in a private directory.
func runScenario(sc scenario, rt runtime, module string) error {
	dir, err := os.MkdirTemp("", "wasigo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var started []*guest
	defer func() {
		for _, g := range started {
			g.stop()
		}
	}()
	start := func(args ...string) (*guest, error) {
		g, err := startGuest(rt.bin, rt.args(module, dir, args))
		if err == nil {
			started = append(started, g)
		}
		return g, err
	}
	return sc.run(start, dir)
}

func scenarios() []scenario {
	cEcho := func(shape string) func() (string, error) {
		return func() (string, error) { return guests.BuildC("sock_echo", "-DSHAPE_"+shape) }
	}
	tcpServer := func(host string) func(func(...string) (*guest, error), string) error {
		return func(start func(...string) (*guest, error), _ string) error {
			g, err := start("tcp-server", host, "1")
			if err != nil {
				return err
			}
			return g.echoAt("tcp", net.JoinHostPort(host, ""))
		}
	}
	var out []scenario
	for _, shape := range []string{"V1", "V2", "MIXED"} {
		label := map[string]string{"V1": "all V1", "V2": "all V2", "MIXED": "mixed V1/V2 (the Rust crate's shape)"}[shape]
		out = append(out, scenario{name: "C, " + label + ": TCP echo server", build: cEcho(shape), run: tcpServer("127.0.0.1")})
	}
	out = append(out,
		scenario{name: "C, all V2: TCP echo server on ::1", build: cEcho("V2"), run: tcpServer("::1")},
		scenario{name: "C, all V1: TCP client", build: cEcho("V1"), run: func(start func(...string) (*guest, error), _ string) error {
			l, err := echoServer()
			if err != nil {
				return err
			}
			defer l.Close()
			_, port, _ := net.SplitHostPort(l.Addr().String())
			g, err := start("tcp-client", "127.0.0.1", port, "hello")
			if err != nil {
				return err
			}
			return g.expectLine("got hello")
		}},
		scenario{name: "C, all V2: Unix stream echo server in a preopen", build: cEcho("V2"), run: func(start func(...string) (*guest, error), dir string) error {
			path := filepath.Join(dir, "s.sock")
			g, err := start("unix-server", path, "1")
			if err != nil {
				return err
			}
			return g.echoAt("unix", path)
		}},
		scenario{name: "C, all V2: bind of a Unix socket outside the preopen is refused", build: cEcho("V2"), run: func(start func(...string) (*guest, error), dir string) error {
			outside, err := os.MkdirTemp("", "wasigo-outside")
			if err != nil {
				return err
			}
			defer os.RemoveAll(outside)
			path := filepath.Join(outside, "escape.sock")
			g, err := start("unix-server", path, "1")
			if err != nil {
				return err
			}
			line, err := g.value("error")
			if _, serr := os.Stat(path); serr == nil {
				return fmt.Errorf("the guest created %s on the host", path)
			}
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, "bind ") {
				return fmt.Errorf("guest printed %q, want a failed bind", "error "+line)
			}
			return nil
		}},
		scenario{name: "Rust std, mixed shape: TCP echo server", build: func() (string, error) { return guests.BuildRust("sock_echo") }, run: tcpServer("127.0.0.1")},
		scenario{name: "Go, stealthrocket/net: HTTP server", build: func() (string, error) { return guests.BuildGo("sockhttp") }, run: func(start func(...string) (*guest, error), _ string) error {
			g, err := start("serve", "127.0.0.1:0")
			if err != nil {
				return err
			}
			port, err := g.value("listening")
			if err != nil {
				return err
			}
			resp, err := httpGet("127.0.0.1:"+port, "/wasigo")
			if err != nil {
				return fmt.Errorf("%w (guest: %s)", err, g.stderrLine())
			}
			if !strings.HasSuffix(resp, "hello /wasigo") {
				return fmt.Errorf("response %q", resp)
			}
			return nil
		}},
	)
	return out
}

// guest is a running guest whose stdout is read line by line.
type guest struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	lines  chan string
	stderr *strings.Builder
	done   chan struct{}
	err    error
}

func startGuest(bin string, args []string) (*guest, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	g := &guest{cmd: exec.CommandContext(ctx, bin, args...), cancel: cancel, lines: make(chan string, 64), stderr: &strings.Builder{}, done: make(chan struct{})}
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	g.cmd.Stderr = g.stderr
	if err := g.cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			g.lines <- s.Text()
		}
		close(g.lines)
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	return g, nil
}

// value waits for a line "KEY VALUE" and returns VALUE; the guest's exit
// (with its first line of stderr) is the error when it never comes.
func (g *guest) value(key string) (string, error) {
	for line := range g.lines {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return v, nil
		}
	}
	<-g.done
	return "", fmt.Errorf("exited (%v) before printing %q: %s", g.err, key, g.stderrLine())
}

// expectLine waits for exactly want on stdout.
func (g *guest) expectLine(want string) error {
	key, v, _ := strings.Cut(want, " ")
	got, err := g.value(key)
	if err != nil {
		return err
	}
	if got != v {
		return fmt.Errorf("printed %q, want %q", key+" "+got, want)
	}
	return nil
}

// echoAt waits for "listening PORT" (TCP; addr is HOST: without the port)
// or "listening" (Unix; addr is the path), sends one message and expects it
// back.
func (g *guest) echoAt(network, addr string) error {
	port, err := g.value("listening")
	if err != nil {
		return err
	}
	if network == "tcp" {
		host, _, _ := net.SplitHostPort(addr)
		addr = net.JoinHostPort(host, port)
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w (guest: %s)", addr, err, g.stderrLine())
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	const msg = "hello from the host"
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("read echo: %w (guest: %s)", err, g.stderrLine())
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q (guest: %s)", got, msg, g.stderrLine())
	}
	return nil
}

// stderrLine is the guest's first line of stderr, once it has exited or
// after a moment.
func (g *guest) stderrLine() string {
	select {
	case <-g.done:
	case <-time.After(200 * time.Millisecond):
	}
	if line := firstLine(g.stderr.String()); line != "" {
		return line
	}
	return "no stderr"
}

func (g *guest) stop() {
	g.cmd.Process.Kill()
	<-g.done
	g.cancel()
}

// echoServer answers every TCP connection on 127.0.0.1 with what it reads.
func echoServer() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
	return l, nil
}

// httpGet sends an HTTP/1.0 GET of path to addr and returns the response.
func httpGet(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: wasigo\r\n\r\n", path)
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	line, _, _ := strings.Cut(s, "\n")
	return line
}
