package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The nodejs runtime speaks HTTP/1.1 itself (runtimes/nodejs/httpwire.go,
// no net/http inside the guest): these tests drive its server with raw
// requests and its client against Go's net/http server, for the framing
// cases a real peer relies on.

const nodeHTTPWireApp = `
const http = require('http');
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    if (req.url === '/stream') {
      res.writeHead(200, 'Fine', {'X-A': '1'});
      res.write('a');
      setTimeout(() => res.end('b'), 20);
    } else if (req.url === '/empty') {
      res.statusCode = 204;
      res.end();
    } else {
      res.end([req.method, req.url, req.httpVersion, body, (req.headers['x-long'] || '').length].join(' '));
    }
  });
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`

// TestNodeHTTPServerWire: pipelined keep-alive requests, a chunked request
// body, a streamed (chunked) response with a custom reason phrase, HEAD,
// 204, HTTP/1.0 (closed after the answer; a streamed answer ends with the
// connection), Expect: 100-continue, a 20 KB header, and a malformed
// request (400).
func TestNodeHTTPServerWire(t *testing.T) {
	port := freePort(t, "tcp")
	app := appDir(t, map[string]string{"server.js": nodeHTTPWireApp})
	g := startSockGuest(t, nodeArgs(t, app, []string{"--env", "PORT=" + strconv.Itoa(port)}, "/app/server.js")...)
	g.expect("listening")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", addr, sockWait)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(sockWait))
		return c, bufio.NewReader(c)
	}
	read := func(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
		t.Helper()
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		return resp, string(b)
	}

	t.Run("pipelined-keep-alive", func(t *testing.T) {
		c, br := dial(t)
		io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"+
			"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"+
			"HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := read(t, br, "GET"); body != "GET /a 1.1  0" || resp.ContentLength != int64(len(body)) || resp.Header.Get("Date") == "" {
			t.Errorf("GET /a: %q, length %d, header %v", body, resp.ContentLength, resp.Header)
		}
		if _, body := read(t, br, "POST"); body != "POST /b 1.1 abcde 0" {
			t.Errorf("POST /b (chunked): %q", body)
		}
		if resp, body := read(t, br, "HEAD"); resp.StatusCode != 200 || body != "" {
			t.Errorf("HEAD: %d %q", resp.StatusCode, body)
		}
		if resp, body := read(t, br, "GET"); resp.StatusCode != 204 || body != "" {
			t.Errorf("204: %d %q", resp.StatusCode, body)
		}
		resp, body := read(t, br, "GET")
		if body != "ab" || resp.Status != "200 Fine" || resp.Header.Get("X-A") != "1" || len(resp.TransferEncoding) != 1 {
			t.Errorf("stream: %q %q %v %v", resp.Status, body, resp.Header, resp.TransferEncoding)
		}
	})
	t.Run("http-1.0", func(t *testing.T) {
		c, br := dial(t)
		io.WriteString(c, "GET /stream HTTP/1.0\r\n\r\n")
		resp, body := read(t, br, "GET")
		if body != "ab" || resp.ProtoMinor != 0 || !resp.Close {
			t.Errorf("HTTP/1.0 stream: %q, proto %s, close %v", body, resp.Proto, resp.Close)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("connection still open after an HTTP/1.0 answer: %v", err)
		}
		c2, br2 := dial(t)
		io.WriteString(c2, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /k2 HTTP/1.0\r\n\r\n")
		if _, body := read(t, br2, "GET"); body != "GET /k 1.0  0" {
			t.Errorf("HTTP/1.0 keep-alive: %q", body)
		}
		if _, body := read(t, br2, "GET"); body != "GET /k2 1.0  0" {
			t.Errorf("HTTP/1.0 second request: %q", body)
		}
	})
	t.Run("expect-continue-and-long-header", func(t *testing.T) {
		c, br := dial(t)
		long := strings.Repeat("x", 20000)
		io.WriteString(c, "PUT /up HTTP/1.1\r\nHost: x\r\nX-Long: "+long+"\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("first line %q (%v), want 100 Continue", line, err)
		}
		br.ReadString('\n') // the empty line
		io.WriteString(c, "hello")
		if _, body := read(t, br, "PUT"); body != "PUT /up 1.1 hello 20000" {
			t.Errorf("PUT: %q", body)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		// What a hostile client sends is refused, and the server goes on.
		for _, tc := range []struct {
			name, req string
			status    int
		}{
			{"start line", "NONSENSE\r\n\r\n", 400},
			{"version", "GET / HTTP/2.0\r\n\r\n", 400},
			{"negative length", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400},
			{"header line", "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", 400},
			{"100 KB header", "GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("b", 100<<10) + "\r\n\r\n", 431},
			{"300 headers", "GET / HTTP/1.1\r\n" + strings.Repeat("X-H: 1\r\n", 300) + "\r\n", 431},
		} {
			c, br := dial(t)
			io.WriteString(c, tc.req)
			if resp, _ := read(t, br, "GET"); resp.StatusCode != tc.status || !resp.Close {
				t.Errorf("%s: %d (close %v), want %d and the connection closed", tc.name, resp.StatusCode, resp.Close, tc.status)
			}
		}
		c, br := dial(t)
		io.WriteString(c, "POST /chunks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
		read(t, br, "POST") // answered (the handler sees the body end early)
		if _, err := io.ReadAll(br); err != nil {
			t.Errorf("after a malformed chunk: %v, want the connection closed", err)
		}
		c2, br2 := dial(t)
		io.WriteString(c2, "GET /still HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := read(t, br2, "GET"); body != "GET /still 1.1  0" {
			t.Errorf("after the malformed requests: %q", body)
		}
	})
}

// TestNodeHTTPClientWire: the client reuses a kept-alive connection for
// requests in turn, reads chunked and close-delimited bodies, skips a 100
// Continue, and maps a refused connection to ECONNREFUSED.
func TestNodeHTTPClientWire(t *testing.T) {
	var mu sync.Mutex
	peers := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers[r.RemoteAddr] = true
		mu.Unlock()
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("one,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("two"))
		default:
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
		}
	}))
	defer srv.Close()
	// A server that answers once and ends the body with the connection.
	raw := tcpServerOn(t, "127.0.0.1:0", func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Raw: yes\r\n\r\nuntil close")
		c.Close()
	})
	app := appDir(t, map[string]string{"main.js": `
const http = require('http');
const [base, rawAddr] = process.argv.slice(2);
function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (c) => body += c);
      res.on('end', () => resolve(res.statusCode + ' ' + (res.headers['x-raw'] || '-') + ' ' + body));
    }).on('error', reject);
  });
}
(async () => {
  for (const p of ['/1', '/2', '/3']) console.log('seq', await get(base + p));
  console.log('chunked', await get(base + '/chunked'));
  console.log('close', await get('http://' + rawAddr + '/'));
})().catch((e) => console.log('error', e.code, e.message));
`})
	r := run(t, nil, nodeArgs(t, app, nil, "/app/main.js", srv.URL, raw.Addr().String())...)
	mustExit(t, r, 0)
	got := strings.Join(lines(r.stdout), "\n")
	want := "seq 200 - GET /1\nseq 200 - GET /2\nseq 200 - GET /3\nchunked 200 - one,two\nclose 200 yes until close"
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s\nstderr:\n%s", got, want, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) != 1 {
		t.Errorf("the server saw %d client connections (%v), want 1: the client did not keep its connection alive", len(peers), peers)
	}
}
