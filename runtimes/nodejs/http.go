package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/stealthrocket/net/wasip1"
)

// bindHTTP adds an HTTP/1.1 server and client (httpwire.go) for
// lib/http.js. Go goroutines do the protocol, one per connection; every
// request and response event is handed to the loop, and the connection's
// goroutine waits for the JavaScript side's writeHead/write/end.
func (r *runtime) bindHTTP() {
	// httpListen(host, port, onRequest(ex)) returns {address(), close()}.
	r.set("httpListen", func(c goja.FunctionCall) goja.Value {
		onRequest := c.Argument(2)
		srv := &httpServer{conns: map[net.Conn]bool{}}
		ln, h := r.listen(c, srv.close)
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				if !srv.track(conn, true) {
					conn.Close()
					return
				}
				go func() {
					r.serveConn(onRequest, conn)
					srv.track(conn, false)
					conn.Close()
				}()
			}
		}()
		return h
	})
	r.set("httpRequest", r.httpRequest)
}

// httpServer tracks its connections, so that closing it closes them.
type httpServer struct {
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// track adds or removes conn; it reports false when the server is closed.
func (s *httpServer) track(conn net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		s.conns[conn] = true
	} else {
		delete(s.conns, conn)
	}
	return true
}

// close closes every connection (the listener is closed by its handle).
func (s *httpServer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

// resOp is one response call from JavaScript, run by the connection's
// goroutine.
type resOp struct {
	head    bool
	status  int
	reason  string
	headers [][2]string
	data    []byte
	end     bool
}

// serveConn serves the requests of one connection in turn.
func (r *runtime) serveConn(onRequest goja.Value, conn net.Conn) {
	br := bufio.NewReaderSize(conn, 8<<10)
	bw := bufio.NewWriterSize(conn, 8<<10)
	for {
		req, err := readHead(br)
		if err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				code := 400
				if err == errHeadTooLarge {
					code = 431
				}
				fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", code, statusText(code))
				bw.Flush()
			}
			return
		}
		major, minor, ok := parseVersion(req.third)
		body, berr := bodyReader(req, br, false)
		if !ok || major != 1 || berr != nil {
			bw.WriteString("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			bw.Flush()
			return
		}
		keepAlive := !req.has("Connection", "close")
		if minor == 0 {
			keepAlive = req.has("Connection", "keep-alive")
		}
		if req.has("Expect", "100-continue") && minor >= 1 {
			if _, isEOF := body.(eofReader); !isEOF {
				bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
				bw.Flush()
			}
		}
		if !r.exchange(onRequest, conn, req, minor, body, bw, keepAlive) || !keepAlive {
			return
		}
	}
}

// exchange hands one request to JavaScript and writes its response. It
// returns when the response is complete and the request body read, and
// reports whether the connection can serve another request.
func (r *runtime) exchange(onRequest goja.Value, conn net.Conn, req *head, minor int, body io.Reader, bw *bufio.Writer, keepAlive bool) bool {
	l := r.loop
	ops := newQueue[resOp]()
	bodyDone := make(chan bool, 1) // the body was read to its end
	l.post(func() {
		vm := r.vm
		ex := vm.NewObject()
		ex.Set("method", req.first)
		ex.Set("url", req.second)
		ex.Set("httpVersion", "1."+strconv.Itoa(minor))
		headers, raw := headerObjects(req.headers)
		ex.Set("headers", headers)
		ex.Set("rawHeaders", raw)
		ex.Set("remoteAddress", conn.RemoteAddr().String())
		// writeHead(status, [[name, value]...], reason), write(data),
		// end(): plain native functions (no reflection) on this hot path.
		ex.Set("writeHead", func(c goja.FunctionCall) goja.Value {
			op := resOp{head: true, status: int(c.Argument(0).ToInteger())}
			if m := c.Argument(2); !goja.IsUndefined(m) && !goja.IsNull(m) {
				op.reason = m.String()
			}
			if pairs, ok := c.Argument(1).Export().([]any); ok {
				for _, p := range pairs {
					if kv, ok := p.([]any); ok && len(kv) == 2 {
						op.headers = append(op.headers, [2]string{fmt.Sprint(kv[0]), fmt.Sprint(kv[1])})
					}
				}
			}
			ops.push(op)
			return nil
		})
		ex.Set("write", func(c goja.FunctionCall) goja.Value {
			ops.push(resOp{data: append([]byte(nil), r.bytesOf(c.Argument(0))...)})
			return nil
		})
		ex.Set("end", func(goja.FunctionCall) goja.Value {
			ops.push(resOp{end: true})
			return nil
		})
		l.callValue(onRequest, ex)
		// The body follows as tasks of their own, after the handler
		// attached its listeners.
		go func() {
			buf := make([]byte, 64*1024)
			for {
				n, err := body.Read(buf)
				if n > 0 {
					data := append([]byte(nil), buf[:n]...)
					l.post(func() { l.callValue(ex.Get("ondata"), r.wrap(data)) })
				}
				if err != nil {
					l.post(func() { l.callValue(ex.Get("onend")) })
					bodyDone <- err == io.EOF
					return
				}
			}
		}()
	})

	w := &resWriter{bw: bw, method: req.first, minor: minor, keepAlive: keepAlive}
	for ended := false; !ended; {
		batch := ops.take()
		if len(batch) == 0 {
			<-ops.signal
			continue
		}
		for _, op := range batch {
			switch {
			case op.head:
				w.status, w.reason, w.headers = op.status, op.reason, op.headers
			case op.end:
				ended = true
			default:
				w.body = append(w.body, op.data...)
			}
		}
		if err := w.flush(ended); err != nil {
			conn.Close() // the client is gone; the body reader ends too
			<-bodyDone
			return false
		}
	}
	return <-bodyDone && w.keepAlive
}

// resWriter frames a response as the handler writes it: a response ended
// before anything was sent gets a Content-Length, a longer one is chunked
// (HTTP/1.1) or ends with the connection (HTTP/1.0), unless the handler
// set Content-Length itself.
type resWriter struct {
	bw        *bufio.Writer
	method    string
	minor     int
	keepAlive bool

	status  int
	reason  string
	headers [][2]string
	body    []byte // written but not yet sent

	sent    bool // the head is out
	chunked bool
	noBody  bool
}

func (w *resWriter) flush(ended bool) error {
	if !w.sent {
		w.writeHead(ended)
	}
	if !w.noBody && len(w.body) > 0 {
		if w.chunked {
			writeChunk(w.bw, w.body)
		} else {
			w.bw.Write(w.body)
		}
	}
	w.body = w.body[:0]
	if ended && w.chunked {
		w.bw.WriteString("0\r\n\r\n")
	}
	return w.bw.Flush()
}

func (w *resWriter) writeHead(ended bool) {
	w.sent = true
	if w.status == 0 {
		w.status = 200
	}
	reason := w.reason
	if reason == "" {
		reason = statusText(w.status)
	}
	w.noBody = w.method == "HEAD" || !bodyAllowed(w.status)
	hasLength, hasDate := false, false
	bw := w.bw
	fmt.Fprintf(bw, "HTTP/1.%d %03d %s\r\n", min(w.minor, 1), w.status, reason)
	for _, h := range w.headers {
		switch strings.ToLower(h[0]) {
		case "content-length":
			hasLength = true
		case "date":
			hasDate = true
		case "transfer-encoding":
			if strings.Contains(strings.ToLower(h[1]), "chunked") {
				w.chunked, hasLength = !w.noBody, true
			}
		case "connection":
			if strings.EqualFold(strings.TrimSpace(h[1]), "close") {
				w.keepAlive = false
			}
		}
		bw.WriteString(h[0])
		bw.WriteString(": ")
		bw.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(h[1]))
		bw.WriteString("\r\n")
	}
	if !hasDate {
		bw.WriteString("Date: " + time.Now().UTC().Format(httpDate) + "\r\n")
	}
	switch {
	case hasLength || w.noBody:
	case ended:
		bw.WriteString("Content-Length: " + strconv.Itoa(len(w.body)) + "\r\n")
	case w.minor >= 1:
		w.chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		w.keepAlive = false // HTTP/1.0 without a length: the end is the close
	}
	if w.minor == 0 && w.keepAlive {
		bw.WriteString("Connection: keep-alive\r\n")
	} else if !w.keepAlive {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// headerObjects returns Node's headers (lower-case names, repeated values
// joined by ", ", set-cookie as an array) and rawHeaders.
func headerObjects(hs []header) (map[string]any, []any) {
	headers := map[string]any{}
	raw := make([]any, 0, 2*len(hs))
	for _, h := range hs {
		lk := strings.ToLower(h.name)
		switch cur, ok := headers[lk]; {
		case lk == "set-cookie":
			a, _ := cur.([]any)
			headers[lk] = append(a, h.value)
		case ok:
			headers[lk] = cur.(string) + ", " + h.value
		default:
			headers[lk] = h.value
		}
		raw = append(raw, h.name, h.value)
	}
	return headers, raw
}

// clientPool keeps idle client connections per host:port for reuse.
var clientPool = struct {
	sync.Mutex
	idle map[string][]idleConn
}{idle: map[string][]idleConn{}}

type idleConn struct {
	conn  net.Conn
	br    *bufio.Reader
	since time.Time
}

const (
	idleTimeout    = 5 * time.Second
	maxIdlePerHost = 16
)

// takeIdle returns an idle connection to addr, if one is fresh enough.
func takeIdle(addr string) (idleConn, bool) {
	clientPool.Lock()
	defer clientPool.Unlock()
	list := clientPool.idle[addr]
	for len(list) > 0 {
		ic := list[len(list)-1]
		list = list[:len(list)-1]
		if time.Since(ic.since) < idleTimeout {
			clientPool.idle[addr] = list
			return ic, true
		}
		ic.conn.Close()
	}
	delete(clientPool.idle, addr)
	return idleConn{}, false
}

func putIdle(addr string, ic idleConn) {
	clientPool.Lock()
	defer clientPool.Unlock()
	if len(clientPool.idle[addr]) >= maxIdlePerHost {
		ic.conn.Close()
		return
	}
	ic.since = time.Now()
	clientPool.idle[addr] = append(clientPool.idle[addr], ic)
}

// httpRequest(opts {method, url, headers: [[k, v]...], body, timeout},
// onResponse(status, statusText, headers, rawHeaders), onData(buf),
// onEnd(), onError(err)) returns an abort function.
func (r *runtime) httpRequest(c goja.FunctionCall) goja.Value {
	vm := r.vm
	l := r.loop
	opts := c.Argument(0).ToObject(vm)
	onResponse, onData, onEnd, onError := c.Argument(1), c.Argument(2), c.Argument(3), c.Argument(4)
	u, err := url.Parse(opts.Get("url").String())
	if err != nil || u.Scheme != "http" || u.Host == "" {
		msg := "invalid URL " + opts.Get("url").String()
		if err != nil {
			msg = err.Error()
		}
		panic(vm.NewTypeError(msg))
	}
	method := opts.Get("method").String()
	var body []byte
	hasBody := false
	if b := opts.Get("body"); b != nil && !goja.IsUndefined(b) && !goja.IsNull(b) {
		body, hasBody = append([]byte(nil), r.bytesOf(b)...), true
	}
	var pairs [][]string
	vm.ExportTo(opts.Get("headers"), &pairs)
	hostHeader := u.Host
	var out strings.Builder
	target := u.RequestURI()
	out.WriteString(method + " " + target + " HTTP/1.1\r\n")
	var extra strings.Builder
	for _, p := range pairs {
		if len(p) != 2 {
			continue
		}
		switch {
		case strings.EqualFold(p[0], "host"):
			hostHeader = p[1]
		case strings.EqualFold(p[0], "content-length"):
			// from the body
		default:
			extra.WriteString(p[0] + ": " + strings.NewReplacer("\r", " ", "\n", " ").Replace(p[1]) + "\r\n")
		}
	}
	out.WriteString("Host: " + hostHeader + "\r\n")
	out.WriteString(extra.String())
	if hasBody || method == "POST" || method == "PUT" || method == "PATCH" {
		out.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	out.WriteString("\r\n")
	wire := append([]byte(out.String()), body...)
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var deadline time.Time
	if to := opts.Get("timeout"); to != nil && to.ToInteger() > 0 {
		deadline = time.Now().Add(time.Duration(to.ToInteger()) * time.Millisecond)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var current net.Conn // closed by abort
	l.ref()
	fail := func(err error, call string) {
		aborted := ctx.Err() != nil // before the deferred cancel
		l.post(func() {
			l.unref()
			if !aborted {
				l.callValue(onError, r.nodeError(err, call, ""))
			}
		})
	}
	go func() {
		defer cancel()
		var ic idleConn
		var resp *head
		for attempt := 0; ; attempt++ {
			reused := false
			if attempt == 0 {
				ic, reused = takeIdle(addr)
			}
			if !reused {
				dctx := ctx
				if !deadline.IsZero() {
					var c2 context.CancelFunc
					dctx, c2 = context.WithDeadline(ctx, deadline)
					defer c2()
				}
				conn, err := wasip1.DialContext(dctx, "tcp", addr)
				if err != nil {
					if errors.Is(err, context.DeadlineExceeded) {
						err = os.ErrDeadlineExceeded
					}
					fail(unwrapOpError(err), "connect")
					return
				}
				ic = idleConn{conn: conn, br: bufio.NewReaderSize(conn, 8<<10)}
			}
			mu.Lock()
			current = ic.conn
			mu.Unlock()
			if ctx.Err() != nil {
				ic.conn.Close()
				return
			}
			ic.conn.SetDeadline(deadline)
			_, err := ic.conn.Write(wire)
			if err == nil {
				resp, err = readResponse(ic.br)
			}
			if err == nil {
				break
			}
			ic.conn.Close()
			if reused && ctx.Err() == nil {
				continue // the server closed the idle connection: a new one
			}
			fail(unwrapOpError(err), "read")
			return
		}
		status, _ := strconv.Atoi(resp.second)
		var rb io.Reader = eofReader{}
		if method != "HEAD" && bodyAllowed(status) {
			var err error
			if rb, err = bodyReader(resp, ic.br, true); err != nil {
				ic.conn.Close()
				fail(err, "read")
				return
			}
		}
		l.post(func() {
			headers, raw := headerObjects(resp.headers)
			l.callValue(onResponse, vm.ToValue(status), vm.ToValue(resp.third), vm.ToValue(headers), vm.ToValue(raw))
		})
		buf := make([]byte, 64*1024)
		for {
			n, err := rb.Read(buf)
			if n > 0 {
				data := append([]byte(nil), buf[:n]...)
				l.post(func() { l.callValue(onData, r.wrap(data)) })
			}
			if err == nil {
				continue
			}
			_, untilClose := rb.(*bufio.Reader)
			if err == io.EOF && !untilClose && !resp.has("Connection", "close") && resp.first == "HTTP/1.1" {
				ic.conn.SetDeadline(time.Time{})
				putIdle(addr, ic)
			} else {
				ic.conn.Close()
			}
			aborted := ctx.Err() != nil
			l.post(func() {
				l.unref()
				if err == io.EOF {
					l.callValue(onEnd)
				} else if !aborted {
					l.callValue(onError, r.nodeError(unwrapOpError(err), "read", ""))
				}
			})
			return
		}
	}()
	return vm.ToValue(func() {
		cancel()
		mu.Lock()
		if current != nil {
			current.Close()
		}
		mu.Unlock()
	})
}

// readResponse reads a response head, skipping 1xx interim responses.
func readResponse(br *bufio.Reader) (*head, error) {
	for {
		h, err := readHead(br)
		if err != nil {
			return nil, err
		}
		if _, _, ok := parseVersion(h.first); !ok {
			return nil, fmt.Errorf("malformed HTTP response %q", h.first)
		}
		if status, err := strconv.Atoi(h.second); err != nil || status < 100 || status > 999 {
			return nil, fmt.Errorf("malformed HTTP status code %q", h.second)
		} else if status >= 200 || status == 101 {
			return h, nil
		}
	}
}

// unwrapOpError returns the errno (or deadline) under a net.OpError.
func unwrapOpError(err error) error {
	var ue interface{ Unwrap() error }
	for errors.As(err, &ue) {
		inner := ue.Unwrap()
		if inner == nil {
			break
		}
		err = inner
	}
	return err
}
