package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasmrun/wasmrun/internal/testdns"
)

// The Node-style runtime (runtimes/nodejs, goja in a Go wasip1 guest) runs
// JavaScript apps through `wasmrun run`: the app directory is preopened at
// /app and the runtime module is the guest. The runtime is built once by
// scripts/build-runtimes.sh into a directory under os.TempDir() (rebuilt
// only when its sources change), and all runs share a compile cache keyed
// by the module's hash, so the ~30 MB module is compiled once.

var nodeRuntime struct {
	once   sync.Once
	wasm   string
	cache  string
	err    error
	output string
}

// nodeWasm returns the built runtime and its compile cache directory.
func nodeWasm(t testing.TB) (wasm, cache string) {
	t.Helper()
	nodeRuntime.once.Do(func() {
		name := "wasmrun-runtimes-cache"
		if uid := os.Getuid(); uid != 0 {
			name += "-" + strconv.Itoa(uid)
		}
		out := filepath.Join(os.TempDir(), name)
		cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "build-runtimes.sh"), "--out", out, "nodejs")
		b, err := cmd.CombinedOutput()
		nodeRuntime.output = string(b)
		if err != nil {
			nodeRuntime.err = fmt.Errorf("build nodejs runtime: %w", err)
			return
		}
		nodeRuntime.wasm = filepath.Join(out, "nodejs.wasm")
		hash, err := os.ReadFile(nodeRuntime.wasm + ".hash")
		if err != nil {
			nodeRuntime.err = err
			return
		}
		nodeRuntime.cache = filepath.Join(os.TempDir(), name, "compiled-"+strings.TrimSpace(string(hash))[:16])
		// Compile once up front (several seconds, more on a busy machine),
		// so that no test's own timeouts include it.
		app, err := os.MkdirTemp("", "wasmrun-node-warm-")
		if err != nil {
			nodeRuntime.err = err
			return
		}
		defer os.RemoveAll(app)
		if err := os.WriteFile(filepath.Join(app, "main.js"), nil, 0o644); err != nil {
			nodeRuntime.err = err
			return
		}
		warm := exec.Command(wasmrun, "run", "--cache-dir", nodeRuntime.cache, "--dir", app+":/app", nodeRuntime.wasm, "--", "/app/main.js")
		if b, err := warm.CombinedOutput(); err != nil {
			nodeRuntime.err = fmt.Errorf("warm-up run of the nodejs runtime: %w", err)
			nodeRuntime.output = string(b)
		}
	})
	if nodeRuntime.err != nil {
		t.Fatalf("%v\n%s", nodeRuntime.err, nodeRuntime.output)
	}
	return nodeRuntime.wasm, nodeRuntime.cache
}

// nodeArgs is `run [FLAGS...] --dir APP:/app RUNTIME -- /app/ENTRY ARGS...`.
func nodeArgs(t testing.TB, app string, flags []string, entry string, args ...string) []string {
	wasm, cache := nodeWasm(t)
	a := append([]string{"run", "--cache-dir", cache, "--dir", app + ":/app"}, flags...)
	a = append(a, wasm, "--", entry)
	return append(a, args...)
}

// seedServer is the Node server example, listening on $PORT.
const seedServer = `require('http').createServer((req, res) => {
  res.writeHead(200);
  res.end('Hello from isolated namespace!')
}).listen(process.env.PORT || 3000, () => console.log('listening'))
`

func TestNodeHTTPServer(t *testing.T) {
	t.Run("seed-example", func(t *testing.T) {
		port := freePort(t, "tcp")
		app := appDir(t, map[string]string{"server.js": seedServer})
		g := startSockGuest(t, nodeArgs(t, app, []string{"--env", "PORT=" + strconv.Itoa(port)}, "/app/server.js")...)
		g.expect("listening")
		client := &http.Client{Timeout: sockWait}
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		for i := 0; i < 3; i++ {
			if got := httpGet(t, client, base+"/"); got != "Hello from isolated namespace!" {
				t.Fatalf("GET / = %q", got)
			}
		}
	})
	t.Run("request-and-close", func(t *testing.T) {
		app := appDir(t, map[string]string{"main.js": `
const http = require('http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    if (req.url === '/quit') { res.end('bye'); server.close(() => console.log('closed')); return; }
    if (req.url === '/missing') { res.statusCode = 404; res.setHeader('Content-Type', 'text/plain'); res.end('nope'); return; }
    res.setHeader('X-Echo-Method', req.method);
    res.writeHead(201, {'Content-Type': 'application/json'});
    res.write(JSON.stringify({method: req.method, url: req.url, agent: req.headers['x-test'], body}));
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log('listening', server.address().port));
process.on('exit', (code) => console.log('exit', code));
`})
		g := startSockGuest(t, nodeArgs(t, app, nil, "/app/main.js")...)
		base := "http://127.0.0.1:" + g.expect("listening")
		req, _ := http.NewRequest("POST", base+"/things?x=1", strings.NewReader("payload"))
		req.Header.Set("X-Test", "yes")
		resp, err := (&http.Client{Timeout: sockWait}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Echo-Method") != "POST" {
			t.Errorf("POST: %s %v", resp.Status, resp.Header)
		}
		if want := `{"method":"POST","url":"/things?x=1","agent":"yes","body":"payload"}`; string(b) != want {
			t.Errorf("POST body %s, want %s", b, want)
		}
		resp, err = http.Get(base + "/missing")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || string(b) != "nope" {
			t.Errorf("GET /missing: %s %q", resp.Status, b)
		}
		if got := httpGet(t, http.DefaultClient, base+"/quit"); got != "bye" {
			t.Errorf("GET /quit = %q", got)
		}
		// Closing the only server lets the process end by itself.
		g.expect("closed")
		if got := g.expect("exit"); got != "0" {
			t.Errorf("exit %s", got)
		}
		g.wait()
	})
}

func TestNodeHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Header.Get("X-From"))
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}))
	defer srv.Close()
	app := appDir(t, map[string]string{"main.js": `
const http = require('http');
const base = process.argv[2];
http.get(base + '/hello', (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c) => body += c);
  res.on('end', () => {
    console.log('get', res.statusCode, body);
    const req = http.request(base + '/post', {method: 'POST', headers: {'X-From': 'node', 'Content-Type': 'text/plain'}}, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => console.log('post', res.statusCode, res.headers['x-seen'], Buffer.concat(chunks).toString()));
    });
    req.write('part1,');
    req.end('part2');
  });
});
const port = Number(process.argv[3]);
http.get({host: '127.0.0.1', port, path: '/'}, () => console.log('unexpected response'))
  .on('error', (e) => console.log('refused', e.code));
`})
	r := run(t, nil, nodeArgs(t, app, nil, "/app/main.js", srv.URL, strconv.Itoa(freePort(t, "tcp")))...)
	mustExit(t, r, 0)
	if got := field(t, r.stdout, "get"); got != "200 GET /hello " {
		t.Errorf("get: %q", got)
	}
	if got := field(t, r.stdout, "post"); got != "200 node POST /post part1,part2" {
		t.Errorf("post: %q", got)
	}
	if got := field(t, r.stdout, "refused"); got != "ECONNREFUSED" {
		t.Errorf("refused: %q", got)
	}
}

func TestNodeNet(t *testing.T) {
	// A host server the guest dials, and a guest echo server the host dials.
	l := tcpServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		c.Write([]byte("host got " + string(b)))
	})
	app := appDir(t, map[string]string{"main.js": `
const net = require('net');
const c = net.connect({port: Number(process.argv[2]), host: '127.0.0.1'}, () => c.end('from guest'));
let reply = '';
c.on('data', (d) => reply += d);
c.on('end', () => console.log('reply', reply));
const srv = net.createServer((s) => {
  let got = '';
  s.on('data', (d) => got += d);
  s.on('end', () => { s.end('echo ' + got); srv.close(); });
});
srv.listen(0, '127.0.0.1', () => console.log('listening', srv.address().port));
`})
	g := startSockGuest(t, nodeArgs(t, app, nil, "/app/main.js", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))...)
	port := g.expect("listening")
	if got := g.expect("reply"); got != "host got from guest" {
		t.Errorf("reply %q", got)
	}
	if got := echoOnce(t, "tcp", "127.0.0.1:"+port, "over tcp"); got != "echo over tcp" {
		t.Errorf("echo %q", got)
	}
	g.wait()
}

func TestNodeFSAndRequire(t *testing.T) {
	app := appDir(t, map[string]string{
		"main.js": `
const fs = require('fs'), path = require('path');
const lib = require('./lib/greet');
const cfg = require('./config.json');
const pkg = require('leftpad');
console.log('require', lib.greet(cfg.name), pkg(7, 3), require.main === module, path.basename(__filename), __dirname);
fs.mkdirSync(path.join(__dirname, 'data/sub'), {recursive: true});
fs.writeFileSync('/app/data/sub/out.txt', 'written by node');
fs.appendFileSync('/app/data/sub/out.txt', '!');
const st = fs.statSync('/app/data/sub/out.txt');
console.log('stat', st.isFile(), st.size, fs.statSync('/app/data').isDirectory());
console.log('readdir', fs.readdirSync('/app/data/sub').join(','), fs.existsSync('/app/nope'));
try { fs.readFileSync('/app/nope') } catch (e) { console.log('missing', e.code) }
fs.readFile('/app/input.txt', 'utf8', (err, s) => {
  console.log('callback', err, s.trim());
  fs.promises.writeFile('/app/data/p.txt', 'promised').then(() => fs.promises.readFile('/app/data/p.txt', 'utf8')).then((s) => console.log('promise', s));
});
`,
		"lib/greet.js":                      "exports.greet = (n) => 'hello ' + n;\n",
		"config.json":                       `{"name": "wasm"}`,
		"input.txt":                         "from the host\n",
		"node_modules/leftpad/package.json": `{"name": "leftpad", "main": "lp.js"}`,
		"node_modules/leftpad/lp.js":        "module.exports = (v, n) => String(v).padStart(n, '0');\n",
	})
	r := run(t, nil, nodeArgs(t, app, nil, "/app/main.js")...)
	mustExit(t, r, 0)
	wantFields(t, r.stdout, map[string]string{
		"require":  "hello wasm 007 true main.js /app",
		"stat":     "true 16 true",
		"readdir":  "out.txt false",
		"missing":  "ENOENT",
		"callback": "null from the host",
		"promise":  "promised",
	})
	if got := readFile(t, filepath.Join(app, "data", "sub", "out.txt")); got != "written by node!" {
		t.Errorf("host sees %q", got)
	}
}

func TestNodeProcess(t *testing.T) {
	t.Run("env-argv-timers", func(t *testing.T) {
		app := appDir(t, map[string]string{"main.js": `
console.log('env', process.env.GREETING);
console.log('argv', process.argv.slice(2).join(','), process.argv[1]);
console.log('cwd', process.cwd(), process.platform, require('os').EOL === '\n');
const order = [];
setTimeout(() => order.push('timeout'), 1);
setImmediate(() => order.push('immediate'));
process.nextTick(() => order.push('tick'));
const iv = setInterval(() => { order.push('interval'); clearInterval(iv); }, 2);
const never = setTimeout(() => order.push('never'), 5); clearTimeout(never);
setTimeout(() => console.log('order', order.sort().join(',')), 30);
new Promise((r) => setTimeout(r, 3)).then(() => order.push('promise'));
`})
		// A relative entry resolves against $PWD.
		r := run(t, nil, nodeArgs(t, app, []string{"--env", "GREETING=hi there", "--env", "PWD=/app"}, "main.js", "a", "b")...)
		mustExit(t, r, 0)
		if got := field(t, r.stdout, "env"); got != "hi there" {
			t.Errorf("env %q", got)
		}
		if got := field(t, r.stdout, "argv"); got != "a,b /app/main.js" {
			t.Errorf("argv %q", got)
		}
		if got := field(t, r.stdout, "cwd"); got != "/app linux true" {
			t.Errorf("cwd %q", got)
		}
		if got := field(t, r.stdout, "order"); got != "immediate,interval,promise,tick,timeout" {
			t.Errorf("order %q", got)
		}
	})
	for _, tc := range []struct {
		name, src string
		code      int
		stdout    string
		stderr    string
	}{
		{"exit-3", "process.on('exit', (c) => console.log('exiting', c)); setTimeout(() => {}, 60000); process.exit(3); console.log('not here')", 3, "exiting 3\n", ""},
		{"exitCode", "process.exitCode = 4; console.log('done')", 4, "done\n", ""},
		{"uncaught", "console.log('before'); setTimeout(() => { throw new Error('kaboom in timer') }, 1)", 1, "before\n", "Error: kaboom in timer"},
		{"uncaught-top", "throw new TypeError('bad at top')", 1, "", "TypeError: bad at top"},
		{"unhandled-rejection", "Promise.reject(new Error('nobody catches'))", 1, "", "Error: nobody catches"},
		{"uncaughtException-listener", "process.on('uncaughtException', (e) => console.log('caught', e.message)); setTimeout(() => { throw new Error('x') }, 1)", 0, "caught x\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := appDir(t, map[string]string{"main.js": tc.src})
			r := run(t, nil, nodeArgs(t, app, nil, "/app/main.js")...)
			mustExit(t, r, tc.code)
			if r.stdout != tc.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tc.stdout)
			}
			if tc.stderr != "" && !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tc.stderr)
			}
		})
	}
	t.Run("missing-entry", func(t *testing.T) {
		app := appDir(t, nil)
		r := run(t, nil, nodeArgs(t, app, nil, "/app/nope.js")...)
		mustExit(t, r, 1)
		if !strings.Contains(r.stderr, "cannot find module '/app/nope.js'") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

func TestNodeDNS(t *testing.T) {
	app := appDir(t, map[string]string{"main.js": `
const dns = require('dns');
dns.lookup(process.argv[2], {family: 4}, (err, address, family) => console.log('lookup', err ? err.code : address + ' ' + family));
dns.lookup('nosuch.wasmrun.test', (err) => console.log('unknown', err && err.code));
`})
	t.Run("hosts-file", func(t *testing.T) {
		etc := t.TempDir()
		hosts := filepath.Join(etc, "hosts")
		writeFile(t, hosts, "127.0.0.1 localhost\n127.0.0.9 app.wasmrun.test\n")
		writeFile(t, filepath.Join(etc, "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
		for name, want := range map[string]string{"localhost": "127.0.0.1 4", "app.wasmrun.test": "127.0.0.9 4"} {
			r := run(t, nil, nodeArgs(t, app, []string{"--hosts", hosts, "--resolv-conf", filepath.Join(etc, "resolv.conf")}, "/app/main.js", name)...)
			mustExit(t, r, 0)
			if got := field(t, r.stdout, "lookup"); got != want {
				t.Errorf("lookup %s = %q, want %q", name, got, want)
			}
			// Not in the hosts file, and no nameserver answers on
			// 127.0.0.1: a temporary failure, as node says (a name the
			// nameserver says does not exist is ENOTFOUND:
			// TestNodeMissingName).
			if got := field(t, r.stdout, "unknown"); got != "EAI_AGAIN" {
				t.Errorf("unknown name: %q, want EAI_AGAIN", got)
			}
		}
	})
	t.Run("dns-server", func(t *testing.T) {
		dns := testdns.Start(t, map[string][]net.IP{dnsName: {net.ParseIP("127.0.0.42")}})
		etc := t.TempDir()
		writeFile(t, filepath.Join(etc, "resolv.conf"), "nameserver "+dns.IP+"\noptions timeout:5 attempts:2\n")
		writeFile(t, filepath.Join(etc, "hosts"), "127.0.0.1 localhost\n")
		r := run(t, nil, nodeArgs(t, app, []string{"--resolv-conf", filepath.Join(etc, "resolv.conf"), "--hosts", filepath.Join(etc, "hosts")},
			"/app/main.js", strings.TrimSuffix(dnsName, "."))...)
		mustExit(t, r, 0)
		if got := field(t, r.stdout, "lookup"); got != "127.0.0.42 4" {
			t.Errorf("lookup = %q", got)
		}
		if dns.Queries.Load() == 0 {
			t.Errorf("the test DNS server was not asked")
		}
	})
}

// TestNodeOSForward runs the server example, unmodified, isolated
// with `wasmrun os --forward HOSTPORT:3000`: two copies side by side on
// the same guest port. Until `wasmrun os --language nodejs` exists, the
// app directory carries the runtime as its module (.wasmrun.toml module and
// args); the app directory is the guest's "/".
func TestNodeOSForward(t *testing.T) {
	requireCNI(t)
	e := newOSEnv(t)
	wasm, cache := nodeWasm(t)
	dir := e.app(map[string]string{"nodejs.wasm": wasm}, "module = \"nodejs.wasm\"\nargs = [\"/server.js\"]\n", "")
	writeFile(t, filepath.Join(dir, "server.js"), strings.Replace(seedServer, "process.env.PORT || 3000", "3000", 1))
	ports := map[string]int{"left": freePort(t, "tcp"), "right": freePort(t, "tcp")}
	runs := map[string]*osRun{}
	for name, port := range ports {
		runs[name] = e.start("--cache-dir", cache, "--name", "node-"+name, "--forward", fmt.Sprintf("%d:3000", port), dir)
	}
	client := &http.Client{Timeout: sockWait}
	for name, r := range runs {
		r.waitFor("listening")
		for range 2 {
			if got := httpGet(t, client, fmt.Sprintf("http://127.0.0.1:%d/", ports[name])); got != "Hello from isolated namespace!" {
				t.Errorf("%s: got %q", name, got)
			}
		}
	}
	terminateAll(t, runs)
	e.noLeaks(ports["left"], ports["right"])
}

// TestNodeLibModules runs the host tests of the runtime's JavaScript
// modules (runtimes/nodejs/lib, a nested module that `go test ./...` from
// the root does not reach): each compiles in goja, the pure ones behave
// like node's.
func TestNodeLibModules(t *testing.T) {
	cmd := exec.Command("go", "test", "-count=1", "./lib/")
	cmd.Dir = filepath.Join(repoRoot(), "runtimes", "nodejs")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test ./lib/ in runtimes/nodejs: %v\n%s", err, out)
	}
}
