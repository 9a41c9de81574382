package integration

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Signals reach the handlers of interpreted apps (wasmrun's signal
// extension, wasi/signal.go): process.on('SIGTERM') in Node and
// signal.signal in Python run when the app is stopped, by a signal to
// `wasmrun run`, to `wasmrun os`, or by `wasmrun stop`, and the app's own
// exit status is what wasmrun reports. An app that did not ask still dies
// of the signal (130/143), and one that ignores SIGTERM is still killed
// after the grace period.

// nodeSignalApp is an HTTP server that closes on SIGTERM or SIGINT and
// exits 0 after saying so.
const nodeSignalApp = `
const http = require('http');
const server = http.createServer((req, res) => res.end('up'));
function stop(sig) {
  console.log('handler ' + sig);
  server.close(() => { console.log('closed'); process.exit(0); });
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.listen(process.env.PORT || 3000, () => console.log('listening'));
`

// pythonSignalApps are Python apps that print in their SIGTERM (and
// SIGINT) handler and exit 0, each waiting in another way: serve_forever
// (selectors' poll), time.sleep (clock_nanosleep), select.select, and an
// asyncio loop with add_signal_handler (the wakeup fd).
var pythonSignalApps = map[string]string{
	"http.server": `
import http.server, os, signal, sys

def stop(sig, frame):
    print("handler", signal.Signals(sig).name, flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
server = http.server.HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), http.server.BaseHTTPRequestHandler)
print("listening", flush=True)
server.serve_forever()
`,
	"sleep": `
import signal, sys, time

def stop(sig, frame):
    print("handler", signal.Signals(sig).name, flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print("listening", flush=True)
time.sleep(600)
print("slept through", flush=True)
`,
	"select": `
import select, signal, socket, sys

def stop(sig, frame):
    print("handler", signal.Signals(sig).name, flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print("listening", flush=True)
select.select([s], [], [], 600)
print("select returned", flush=True)
`,
	"asyncio": `
import asyncio, signal

async def main():
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: (print("handler", s.name, flush=True), stopped.set()))
    print("listening", flush=True)
    await stopped.wait()

asyncio.run(main())
`,
}

// waitStatus waits for a sockGuest's wasmrun and returns its exit status
// (128+N when signal N killed it).
func (g *sockGuest) waitStatus() int {
	g.t.Helper()
	for {
		select {
		case line, ok := <-g.lines:
			if ok {
				g.out = append(g.out, line)
				continue
			}
			<-g.done
			var exit *exec.ExitError
			if g.err != nil && !errors.As(g.err, &exit) {
				g.t.Fatalf("wait: %v", g.err)
			}
			ws := g.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		case <-time.After(sockWait):
			g.t.Fatalf("guest did not exit within %v; output %q; stderr:\n%s", sockWait, g.out, g.stderrText())
		}
	}
}

// signalRun starts args (a `wasmrun run`), waits for "listening", sends
// sig to wasmrun and checks the status and that the output has want.
func signalRun(t *testing.T, args []string, sig syscall.Signal, status int, want ...string) {
	t.Helper()
	g := startSockGuest(t, args...)
	g.expect("listening")
	if err := g.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	code := g.waitStatus()
	out := strings.Join(g.out, "\n")
	if code != status {
		t.Errorf("status %d after %v, want %d; output %q; stderr:\n%s", code, sig, status, out, g.stderrText())
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output %q after %v: no %q; stderr:\n%s", out, sig, w, g.stderrText())
		}
	}
}

// TestNodeSignals: `wasmrun run` of the Node runtime. The app's handlers
// run on SIGTERM and SIGINT and its exit 0 is wasmrun's; without a
// listener (never added, or removed again) the signal kills as before.
func TestNodeSignals(t *testing.T) {
	app := appDir(t, map[string]string{
		"server.js": nodeSignalApp,
		"plain.js":  `setInterval(() => {}, 1000); console.log('listening');`,
		"removed.js": `const f = () => console.log('handler ran');
process.on('SIGTERM', f); process.once('SIGINT', f);
process.removeListener('SIGTERM', f);
setInterval(() => {}, 1000); console.log('listening');`,
	})
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
		t.Run("handler-"+name, func(t *testing.T) {
			port := freePort(t, "tcp")
			args := nodeArgs(t, app, []string{"--env", "PORT=" + strconv.Itoa(port)}, "/app/server.js")
			signalRun(t, args, sig, 0, "handler "+name, "closed")
		})
	}
	t.Run("no-listener", func(t *testing.T) {
		signalRun(t, nodeArgs(t, app, nil, "/app/plain.js"), syscall.SIGTERM, 143)
	})
	t.Run("listener-removed", func(t *testing.T) {
		signalRun(t, nodeArgs(t, app, nil, "/app/removed.js"), syscall.SIGTERM, 143)
	})
	t.Run("once", func(t *testing.T) {
		// The once-listener runs for the first SIGINT; the second kills.
		g := startSockGuest(t, nodeArgs(t, app, nil, "/app/removed.js")...)
		g.expect("listening")
		g.cmd.Process.Signal(syscall.SIGINT)
		g.expect("handler")
		g.cmd.Process.Signal(syscall.SIGINT)
		if code := g.waitStatus(); code != 130 {
			t.Errorf("status %d after the second SIGINT, want 130", code)
		}
	})
}

// TestPythonSignals: `wasmrun run` of the Python runtime: signal.signal
// handlers run on SIGTERM and SIGINT wherever the app waits; an app that
// installs none dies of SIGTERM (143) and of Ctrl-C (130), as before
// (CPython's own KeyboardInterrupt handler does not subscribe).
func TestPythonSignals(t *testing.T) {
	files := map[string]string{"plain.py": "import time\nprint('listening', flush=True)\ntime.sleep(600)\n"}
	for name, src := range pythonSignalApps {
		files["app_"+name+".py"] = src
	}
	app := appDir(t, files)
	args := func(entry string) []string {
		a := pythonArgs(t, app, []string{"--env", "PORT=" + strconv.Itoa(freePort(t, "tcp"))})
		a[len(a)-1] = "/app/" + entry
		return a
	}
	for name := range pythonSignalApps {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			sigName := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
			t.Run(name+"-"+sigName, func(t *testing.T) {
				t.Parallel()
				signalRun(t, args("app_"+name+".py"), sig, 0, "handler "+sigName)
			})
		}
	}
	t.Run("no-handler", func(t *testing.T) {
		t.Parallel()
		signalRun(t, args("plain.py"), syscall.SIGTERM, 143)
		signalRun(t, args("plain.py"), syscall.SIGINT, 130)
	})
}

// TestLanguageSignalsOS: under `wasmrun os`, `wasmrun stop` reaches the
// app's SIGTERM handler: stop returns, wasmrun os exits 0 with the
// handler's output. A SIGTERM to wasmrun os does the same. An app whose
// handler ignores SIGTERM is killed when the grace period ends (137).
func TestLanguageSignalsOS(t *testing.T) {
	e := newOSEnv(t)
	nodeWasmPath, cache := nodeWasm(t)
	type app struct {
		lang, entry, src, rtDir string
		flags                   []string
	}
	apps := map[string]app{
		"node":   {"nodejs", "index.js", nodeSignalApp, filepath.Dir(nodeWasmPath), []string{"--cache-dir", cache}},
		"python": {"python", "main.py", pythonSignalApps["http.server"], filepath.Dir(pythonRuntime(t)), nil},
	}
	start := func(t *testing.T, a app, name, src string) *osRun {
		dir := e.app(nil, "", "")
		writeFile(t, filepath.Join(dir, a.entry), src)
		args := append([]string{"--runtime-dir", a.rtDir, "--language", a.lang, "--name", name}, a.flags...)
		r := e.with(t).start(append(args, dir)...)
		r.waitFor("listening")
		return r
	}
	for lang, a := range apps {
		t.Run(lang+"-stop", func(t *testing.T) {
			name := lang + "-stop"
			r := start(t, a, name, a.src)
			stop := e.with(t).run("stop", name)
			mustExit(t, stop, 0)
			if code := r.wait(); code != 0 {
				t.Errorf("wasmrun os exited %d after wasmrun stop, want 0 (the handler's exit)\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout.String(), "handler SIGTERM") {
				t.Errorf("no handler output after wasmrun stop:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
		})
		t.Run(lang+"-sigterm", func(t *testing.T) {
			r := start(t, a, lang+"-term", a.src)
			r.signal(syscall.SIGTERM)
			if code := r.wait(); code != 0 || !strings.Contains(r.stdout.String(), "handler SIGTERM") {
				t.Errorf("wasmrun os exited %d after SIGTERM, want 0 and the handler's output\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
			}
		})
	}
	t.Run("node-ctrl-c", func(t *testing.T) {
		// A terminal's Ctrl-C signals wasmrun os and the container process
		// both; wasmrun os passes its copy on. The handler runs (the second
		// SIGINT is merged with the first while it is unread).
		dir := e.app(nil, "", "")
		writeFile(t, filepath.Join(dir, "index.js"), nodeSignalApp)
		r := e.with(t).startCmd(func(c *exec.Cmd) { c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} },
			"--runtime-dir", apps["node"].rtDir, "--cache-dir", cache, "--name", "node-ctrlc", dir)
		r.waitFor("listening")
		if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := r.wait(); code != 0 || !strings.Contains(r.stdout.String(), "handler SIGINT") {
			t.Errorf("wasmrun os exited %d after Ctrl-C, want 0 and the handler's output\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
		}
		t.Logf("handler runs: %d", strings.Count(r.stdout.String(), "handler SIGINT"))
	})
	t.Run("ignored-is-killed", func(t *testing.T) {
		// The handler keeps the app running: after --time, SIGKILL.
		src := strings.Replace(nodeSignalApp, "function stop(sig) {", "function stop(sig) { console.log('ignoring ' + sig); return;", 1)
		r := start(t, apps["node"], "node-ignore", src)
		begin := time.Now()
		stop := e.with(t).run("stop", "--time", "2s", "node-ignore")
		mustExit(t, stop, 0)
		if code := r.wait(); code != 137 {
			t.Errorf("wasmrun os exited %d, want 137 (SIGKILL after the grace period)\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
		}
		if d := time.Since(begin); d < 2*time.Second {
			t.Errorf("stopped after %v, before the 2 s grace period", d)
		}
		if !strings.Contains(r.stdout.String(), "ignoring SIGTERM") {
			t.Errorf("the handler did not run:\n%s", r.stdout)
		}
	})
	e.noLeaks()
}
