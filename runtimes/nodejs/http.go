package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/stealthrocket/net/wasip1"
)

// bindHTTP adds an HTTP server and client on Go's net/http for
// lib/http.js. Go goroutines do the protocol; every request and response
// event is handed to the loop, and a handler goroutine waits for the
// JavaScript side's writeHead/write/end.
func (r *runtime) bindHTTP() {
	// httpListen(host, port, onRequest(ex)) returns {address(), close()}.
	r.set("httpListen", func(c goja.FunctionCall) goja.Value {
		onRequest := c.Argument(2)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.serveHTTP(onRequest, w, req)
		})}
		ln, h := r.listen(c, func() { go srv.Close() })
		go srv.Serve(ln)
		return h
	})
	r.set("httpRequest", r.httpRequest)
}

// resOp is one response call from JavaScript, run by the handler goroutine.
type resOp struct {
	head    bool
	status  int
	headers [][2]string
	data    []byte
	end     bool
}

// serveHTTP runs in the server's handler goroutine.
func (r *runtime) serveHTTP(onRequest goja.Value, w http.ResponseWriter, req *http.Request) {
	l := r.loop
	ops := newQueue[resOp]()
	l.post(func() {
		vm := r.vm
		ex := vm.NewObject()
		ex.Set("method", req.Method)
		ex.Set("url", req.RequestURI)
		ex.Set("httpVersion", strings.TrimPrefix(req.Proto, "HTTP/"))
		headers, raw := headerObjects(req.Header)
		if req.Host != "" {
			headers["host"] = req.Host
			raw = append([]any{"Host", req.Host}, raw...)
		}
		ex.Set("headers", headers)
		ex.Set("rawHeaders", raw)
		ex.Set("remoteAddress", req.RemoteAddr)
		// writeHead(status, [[name, value]...]), write(data), end(): plain
		// native functions (no reflection) on this hot path.
		ex.Set("writeHead", func(c goja.FunctionCall) goja.Value {
			op := resOp{head: true, status: int(c.Argument(0).ToInteger())}
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
				n, err := req.Body.Read(buf)
				if n > 0 {
					data := append([]byte(nil), buf[:n]...)
					l.post(func() { l.callValue(ex.Get("ondata"), r.wrap(data)) })
				}
				if err != nil {
					l.post(func() { l.callValue(ex.Get("onend")) })
					return
				}
			}
		}()
	})
	flusher, _ := w.(http.Flusher)
	for {
		batch := ops.take()
		if len(batch) == 0 {
			select {
			case <-ops.signal:
				continue
			case <-req.Context().Done():
				return
			}
		}
		for _, op := range batch {
			switch {
			case op.head:
				for _, h := range op.headers {
					w.Header().Add(h[0], h[1])
				}
				w.WriteHeader(op.status)
			case op.end:
				return
			default:
				w.Write(op.data)
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// headerObjects returns Node's req.headers (lower-case names, repeated
// values joined by ", ") and rawHeaders.
func headerObjects(h http.Header) (map[string]any, []any) {
	headers := map[string]any{}
	raw := []any{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if lk == "set-cookie" {
			a := make([]any, len(vs))
			for i, v := range vs {
				a[i] = v
			}
			headers[lk] = a
		} else {
			headers[lk] = strings.Join(vs, ", ")
		}
		for _, v := range vs {
			raw = append(raw, k, v)
		}
	}
	return headers, raw
}

var httpClient = &http.Client{
	Transport: &http.Transport{
		DialContext:         wasip1.DialContext,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     5 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// httpRequest(opts {method, url, headers: [[k, v]...], body, timeout},
// onResponse(status, statusText, headers, rawHeaders), onData(buf),
// onEnd(), onError(err)) returns an abort function.
func (r *runtime) httpRequest(c goja.FunctionCall) goja.Value {
	vm := r.vm
	l := r.loop
	opts := c.Argument(0).ToObject(vm)
	onResponse, onData, onEnd, onError := c.Argument(1), c.Argument(2), c.Argument(3), c.Argument(4)
	ctx, cancel := context.WithCancel(context.Background())
	var body io.Reader
	if b := opts.Get("body"); b != nil && !goja.IsUndefined(b) && !goja.IsNull(b) {
		body = bytes.NewReader(append([]byte(nil), r.bytesOf(b)...))
	}
	req, err := http.NewRequestWithContext(ctx, opts.Get("method").String(), opts.Get("url").String(), body)
	if err != nil {
		cancel()
		panic(r.vm.NewTypeError(err.Error()))
	}
	var pairs [][]string
	vm.ExportTo(opts.Get("headers"), &pairs)
	for _, p := range pairs {
		if len(p) != 2 {
			continue
		}
		if strings.EqualFold(p[0], "host") {
			req.Host = p[1]
		} else if strings.EqualFold(p[0], "content-length") {
			continue // from the body
		} else {
			req.Header.Add(p[0], p[1])
		}
	}
	if to := opts.Get("timeout"); to != nil && to.ToInteger() > 0 {
		ctx2, cancel2 := context.WithTimeout(ctx, time.Duration(to.ToInteger())*time.Millisecond)
		req = req.WithContext(ctx2)
		_ = cancel2
	}
	l.ref()
	go func() {
		defer cancel()
		resp, err := httpClient.Do(req)
		if err != nil {
			l.post(func() {
				l.unref()
				l.callValue(onError, r.nodeError(unwrapURLError(err), "connect", ""))
			})
			return
		}
		defer resp.Body.Close()
		l.post(func() {
			headers, raw := headerObjects(resp.Header)
			text := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
			l.callValue(onResponse, vm.ToValue(resp.StatusCode), vm.ToValue(text), vm.ToValue(headers), vm.ToValue(raw))
		})
		buf := make([]byte, 64*1024)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				data := append([]byte(nil), buf[:n]...)
				l.post(func() { l.callValue(onData, r.wrap(data)) })
			}
			if err != nil {
				l.post(func() {
					l.unref()
					if errors.Is(err, io.EOF) {
						l.callValue(onEnd)
					} else {
						l.callValue(onError, r.nodeError(err, "read", ""))
					}
				})
				return
			}
		}
	}()
	return vm.ToValue(func() { cancel() })
}

func unwrapURLError(err error) error {
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
