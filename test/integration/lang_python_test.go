package integration

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdns"
)

// Python: CPython 3.11 built for WASI by scripts/build-runtimes.sh python
// (runtimes/python), with the stdlib as bin/runtimes/python/lib/python311.zip
// and sockets from runtimes/python/wasisock. Each test runs a small app
// unmodified from its own directory, mounted at /app, with the layout
// `wasmrun os --language python` uses (the runtime directory as the guest's
// /, PYTHONHOME=/python):
//
//	wasmrun run --dir RUNTIMES:/ --dir APP:/app --env PYTHONHOME=/python \
//	    RUNTIMES/python/python.wasm -- /app/main.py
//
// The first test builds the runtime (cached: a no-op when up to date);
// WASMRUN_TEST_PYTHON_RUNTIME=DIR uses a prebuilt one instead.

var (
	pythonOnce sync.Once
	pythonDir  string
	pythonErr  string
)

// pythonRuntime builds the Python runtime through the project's script
// and returns its directory.
func pythonRuntime(t testing.TB) string {
	t.Helper()
	pythonOnce.Do(func() {
		if dir := os.Getenv("WASMRUN_TEST_PYTHON_RUNTIME"); dir != "" {
			pythonDir = dir // a prebuilt runtime, not rebuilt
			return
		}
		root := repoRoot()
		// bin/runtimes keeps the result between runs (a cold build takes
		// minutes; the script is a no-op when it is up to date).
		runtimes := filepath.Join(root, "bin", "runtimes")
		cmd := exec.Command(filepath.Join(root, "scripts", "build-runtimes.sh"), "--out", runtimes, "python")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			pythonErr = err.Error() + "\n" + string(out)
			return
		}
		pythonDir = filepath.Join(runtimes, "python")
	})
	if pythonErr != "" {
		if os.Geteuid() != 0 && strings.Contains(pythonErr, "as root") {
			t.Skip("building the Python runtime needs packages only root can install: " + pythonErr)
		}
		t.Fatalf("scripts/build-runtimes.sh python: %s", pythonErr)
	}
	return pythonDir
}

// pythonArgs is the wasmrun command line running /app/main.py of app with
// extra wasmrun flags and script arguments.
func pythonArgs(t testing.TB, app string, flags []string, args ...string) []string {
	rt := pythonRuntime(t)
	a := []string{"run", "--dir", filepath.Dir(rt) + ":/", "--dir", app + ":/app", "--env", "PYTHONHOME=/python"}
	a = append(a, flags...)
	a = append(a, filepath.Join(rt, "python.wasm"), "--", "/app/main.py")
	return append(a, args...)
}

// runPython runs main.py of app to completion.
func runPython(t testing.TB, app string, flags []string, args ...string) result {
	t.Helper()
	return run(t, nil, pythonArgs(t, app, flags, args...)...)
}

// resolverFiles writes a hosts file and a resolv.conf whose nameserver is
// nameserver (a test DNS server's address, or noDNSServer), so that no
// lookup can leave the machine.
func resolverFiles(t testing.TB, hosts, nameserver string) []string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "hosts"), hosts)
	writeFile(t, filepath.Join(dir, "resolv.conf"), "nameserver "+nameserver+"\noptions timeout:2 attempts:1\n")
	return []string{"--hosts", filepath.Join(dir, "hosts"), "--resolv-conf", filepath.Join(dir, "resolv.conf")}
}

func TestPythonStdlib(t *testing.T) {
	t.Parallel()
	app := appDir(t, map[string]string{"main.py": `
import asyncio, json, re, sys, os

print("platform", sys.platform, sys.version_info[:2] == (3, 11))
print("json", json.dumps({"b": [1, 2], "a": None}, sort_keys=True))
print("re", re.sub(r"(\w+)@(\w+)", r"\2 at \1", "user@example"))
print("args", " ".join(sys.argv[1:]))
print("env", os.environ.get("GREETING"))
import decimal, gzip, hashlib, zlib
print("zlib", zlib.decompress(zlib.compress(b"x" * 1000)) == b"x" * 1000, gzip.decompress(gzip.compress(b"gz")).decode())
print("sha256", hashlib.sha256(b"abc").hexdigest()[:16])
print("decimal", decimal.Decimal("0.1") + decimal.Decimal("0.2"))
with open("/app/out.txt", "w") as f:
    f.write("written by python")

async def tick(n):
    await asyncio.sleep(0.01)
    return n * 2

async def main():
    return sum(await asyncio.gather(*(tick(i) for i in range(5))))

print("asyncio", asyncio.run(main()))
`})
	r := runPython(t, app, []string{"--env", "GREETING=hi"}, "a", "b c")
	mustExit(t, r, 0)
	wantFields(t, r.stdout, map[string]string{
		"platform": "wasi True",
		"json":     `{"a": null, "b": [1, 2]}`,
		"re":       "example at user",
		"args":     "a b c",
		"env":      "hi",
		"zlib":     "True gz",
		"sha256":   "ba7816bf8f01cfea",
		"decimal":  "0.3",
		"asyncio":  "20",
	})
	if got := readFile(t, filepath.Join(app, "out.txt")); got != "written by python" {
		t.Errorf("out.txt: %q", got)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestPythonExit(t *testing.T) {
	t.Parallel()
	t.Run("sys.exit", func(t *testing.T) {
		app := appDir(t, map[string]string{"main.py": "import sys\nprint('before')\nsys.exit(3)\n"})
		r := runPython(t, app, nil)
		mustExit(t, r, 3)
		if r.stdout != "before\n" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	t.Run("exception", func(t *testing.T) {
		app := appDir(t, map[string]string{"main.py": "import json\n\ndef f():\n    raise ValueError('bad value')\n\nf()\n"})
		r := runPython(t, app, nil)
		mustExit(t, r, 1)
		for _, want := range []string{
			"Traceback (most recent call last):",
			`File "/app/main.py", line 6, in <module>`,
			"raise ValueError('bad value')",
			"ValueError: bad value",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
	})
	t.Run("stdlib traceback", func(t *testing.T) {
		// Frames in the zipped stdlib name their zip path; the traceback
		// module also shows their source lines (read from the zip).
		app := appDir(t, map[string]string{"main.py": "import json, traceback\ntry:\n    json.loads('{')\nexcept ValueError:\n    traceback.print_exc()\njson.loads('[')\n"})
		r := runPython(t, app, nil)
		mustExit(t, r, 1)
		for _, want := range []string{
			"/python/lib/python311.zip/json/decoder.py",
			"obj, end = self.scan_once(s, idx)",
			"json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes",
			"json.decoder.JSONDecodeError: Expecting value",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
	})
}

// pythonHTTPServer is an http.server app: /hello answers from a handler,
// other paths are files of /app (SimpleHTTPRequestHandler).
const pythonHTTPServer = `
import functools, http.server, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/hello"):
            body = ("hello from python " + self.path + " peer " + self.client_address[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def do_POST(self):
        n = int(self.headers["Content-Length"])
        body = self.rfile.read(n)[::-1]
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), functools.partial(Handler, directory="/app"))
print("listening", server.server_address[1], flush=True)
server.serve_forever()
`

func TestPythonHTTPServer(t *testing.T) {
	t.Parallel()
	app := appDir(t, map[string]string{"main.py": pythonHTTPServer, "data.txt": "a file served by http.server\n"})
	port := freePort(t, "tcp")
	g := startSockGuest(t, pythonArgs(t, app, nil, "127.0.0.1", strconv.Itoa(port))...)
	if got := g.expect("listening"); got != strconv.Itoa(port) {
		t.Fatalf("listening on %s, want %d", got, port)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: sockWait}
	for _, p := range []string{"/hello", "/hello/again"} {
		if got, want := httpGet(t, client, base+p), "hello from python "+p+" peer 127.0.0.1"; got != want {
			t.Errorf("GET %s = %q, want %q", p, got, want)
		}
	}
	if got := httpGet(t, client, base+"/data.txt"); got != "a file served by http.server\n" {
		t.Errorf("GET /data.txt = %q", got)
	}
	resp, err := client.Post(base+"/echo", "text/plain", strings.NewReader("abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != "fedcba" {
		t.Errorf("POST: %s %q", resp.Status, b)
	}
	resp, err = client.Get(base + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /missing: %s", resp.Status)
	}
	// http.server logs each request on stderr.
	if s := g.stderrText(); !strings.Contains(s, `"GET /data.txt HTTP/1.1" 200`) {
		t.Errorf("no request log on stderr:\n%s", s)
	}
}

// pythonClient is a socket client: a TCP exchange with a server given by
// name (resolved by create_connection), with a timeout set (the
// non-blocking + poll path), then a UDP exchange.
const pythonClient = `
import errno, socket, sys

host, tcp_port, udp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with socket.create_connection((host, tcp_port), timeout=20) as s:
    s.sendall(b"ping from python\n")
    f = s.makefile("rb")
    print("tcp", f.readline().decode().strip())
    print("peer", s.getpeername()[0], s.getpeername()[1] == tcp_port)
    print("local", s.getsockname()[0])
    print("type", s.type == socket.SOCK_STREAM, s.family == socket.AF_INET)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    print("keepalive", s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(20)
u.sendto(b"datagram", ("127.0.0.1", udp_port))
data, addr = u.recvfrom(100)
print("udp", data.decode(), addr[1] == udp_port)

try:
    socket.create_connection(("127.0.0.1", int(sys.argv[4])), timeout=20)
except ConnectionRefusedError as e:
    print("refused", e.errno == errno.ECONNREFUSED)
`

func TestPythonSocketClient(t *testing.T) {
	t.Parallel()
	l := tcpServer(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(sockWait))
		line, _ := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "host got: "+line)
	})
	pc := udpEchoServer(t, "echo ")
	tcpPort := l.Addr().(*net.TCPAddr).Port
	udpPort := pc.LocalAddr().(*net.UDPAddr).Port
	closed := freePort(t, "tcp")

	app := appDir(t, map[string]string{"main.py": pythonClient})
	flags := resolverFiles(t, "127.0.0.1 localhost\n127.0.0.1 server.wasmrun.test\n", noDNSServer)
	r := runPython(t, app, flags, "server.wasmrun.test", strconv.Itoa(tcpPort), strconv.Itoa(udpPort), strconv.Itoa(closed))
	mustExit(t, r, 0)
	wantFields(t, r.stdout, map[string]string{
		"tcp":       "host got: ping from python",
		"peer":      "127.0.0.1 True",
		"local":     "127.0.0.1",
		"type":      "True True",
		"keepalive": "True",
		"udp":       "echo datagram True",
		"refused":   "True",
	})
}

// pythonResolve prints socket.getaddrinfo results for each name argument.
const pythonResolve = `
import socket, sys

for name in sys.argv[1:]:
    try:
        res = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
        print(name, " ".join(sorted({f"{a[4][0]}:{a[4][1]}" for a in res})))
    except socket.gaierror as e:
        print(name, "gaierror", e.errno == socket.EAI_NONAME)
print("byname", socket.gethostbyname("localhost"))
print("hostname", socket.gethostname())
`

func TestPythonGetaddrinfo(t *testing.T) {
	t.Parallel()
	app := appDir(t, map[string]string{"main.py": pythonResolve})
	flags := resolverFiles(t, "127.0.0.1 localhost\n127.0.0.42 only-in-hosts.wasmrun.test\n", noDNSServer)
	r := runPython(t, app, flags, "localhost", "only-in-hosts.wasmrun.test", "127.0.0.9")
	mustExit(t, r, 0)
	wantFields(t, r.stdout, map[string]string{
		"localhost":                  "127.0.0.1:80",
		"only-in-hosts.wasmrun.test": "127.0.0.42:80",
		"127.0.0.9":                  "127.0.0.9:80",
		"byname":                     "127.0.0.1",
		"hostname":                   "localhost",
	})
}

func TestPythonDNS(t *testing.T) {
	t.Parallel()
	dns := testdns.Start(t, map[string][]net.IP{dnsName: {net.IPv4(127, 0, 0, 7)}})
	app := appDir(t, map[string]string{"main.py": pythonResolve})
	flags := resolverFiles(t, "127.0.0.1 localhost\n", dns.IP)
	name := strings.TrimSuffix(dnsName, ".")
	r := runPython(t, app, flags, name, "nosuch.wasmrun.test")
	mustExit(t, r, 0)
	if got := field(t, r.stdout, name); got != "127.0.0.7:80" {
		t.Errorf("%s: got %q", name, got)
	}
	if got := field(t, r.stdout, "nosuch.wasmrun.test"); got != "gaierror True" {
		t.Errorf("unknown name: got %q", got)
	}
	if dns.Queries.Load() == 0 {
		t.Errorf("the test DNS server was not asked")
	}
}

func TestPythonAsyncioServer(t *testing.T) {
	t.Parallel()
	// asyncio's event loop (selectors, its socketpair fallback over
	// loopback, non-blocking connect) with a server and a client in the
	// same guest.
	app := appDir(t, map[string]string{"main.py": `
import asyncio

async def handle(reader, writer):
    data = await reader.readline()
    writer.write(b"echo " + data)
    await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"via asyncio\n")
    await writer.drain()
    print("got", (await reader.readline()).decode().strip())
    writer.close()
    server.close()
    await server.wait_closed()

asyncio.run(main())
`})
	r := runPython(t, app, nil)
	mustExit(t, r, 0)
	if got := field(t, r.stdout, "got"); got != "echo via asyncio" {
		t.Errorf("got %q", got)
	}
}

// pythonFamilies exercises IPv6 and Unix stream sockets, select.select,
// socketpair (socket.py's loopback fallback) and a recv timeout.
const pythonFamilies = `
import os, select, selectors, socket, sys

def exchange(family, addr):
    l = socket.socket(family, socket.SOCK_STREAM)
    l.bind(addr)
    l.listen()
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect(l.getsockname())
    s, peer = l.accept()
    c.sendall(b"over " + str(family.name).encode())
    return s.recv(100).decode(), l.getsockname()

if sys.argv[1] == "v6":
    data, name = exchange(socket.AF_INET6, ("::1", 0))
    print("inet6", data, name[0])
os.chdir("/app")
data, name = exchange(socket.AF_UNIX, "/app/server.sock")
print("unix", data, name)

a, b = socket.socketpair()
a.sendall(b"x")
r, _, _ = select.select([b], [], [], 20)
print("select", r == [b], b.recv(1).decode())
print("selector", type(selectors.DefaultSelector()).__name__)
b.settimeout(0.1)
try:
    b.recv(1)
except TimeoutError:
    print("timeout", "ok")
`

func TestPythonSocketFamilies(t *testing.T) {
	t.Parallel()
	v6 := "v6"
	if !hasIPv6Loopback() {
		v6 = "no-v6"
	}
	app := appDir(t, map[string]string{"main.py": pythonFamilies})
	r := runPython(t, app, nil, v6)
	mustExit(t, r, 0)
	want := map[string]string{
		"unix":     "over AF_UNIX /app/server.sock",
		"select":   "True x",
		"selector": "PollSelector",
		"timeout":  "ok",
	}
	if v6 == "v6" {
		want["inet6"] = "over AF_INET6 ::1"
	}
	wantFields(t, r.stdout, want)
	if _, err := os.Stat(filepath.Join(app, "server.sock")); err != nil {
		t.Errorf("the Unix socket is not in the app dir: %v", err)
	}
}

// TestPythonOSForward: an http.server app under `wasmrun os APP
// --forward HOSTPORT:8000` in its own network namespace, the language
// detected from main.py in one copy and given by flag in the other, side by
// side on the same guest port.
func TestPythonOSForward(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	rt := pythonRuntime(t)
	app := `
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + os.environ["APP_ID"]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.HTTPServer(("0.0.0.0", 8000), Handler)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
`
	ports := map[string]int{"detected": freePort(t, "tcp"), "flagged": freePort(t, "tcp")}
	runs := map[string]*osRun{}
	for name, extra := range map[string][]string{"detected": nil, "flagged": {"--language", "python"}} {
		dir := e.app(nil, "", "")
		writeFile(t, filepath.Join(dir, "main.py"), app)
		args := append([]string{"--runtime-dir", filepath.Dir(rt), "--name", "py-" + name,
			"--forward", strconv.Itoa(ports[name]) + ":8000", "--env", "APP_ID=" + name}, extra...)
		runs[name] = e.start(append(args, dir)...)
	}
	client := &http.Client{Timeout: sockWait}
	for name, r := range runs {
		r.waitFor("listening 8000")
		if got := httpGet(t, client, "http://127.0.0.1:"+strconv.Itoa(ports[name])+"/"); got != "hello from "+name {
			t.Errorf("%s: got %q", name, got)
		}
	}
	terminateAll(t, runs)
	e.noLeaks(ports["detected"], ports["flagged"])
}
