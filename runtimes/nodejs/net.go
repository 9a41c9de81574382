package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"

	"github.com/dop251/goja"
	"github.com/stealthrocket/net/wasip1"
)

// listenAddr joins host and port for wasip1.Listen; an empty host listens
// on every IPv4 address (node listens on :: when it can).
func listenAddr(host string, port int64) string {
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.FormatInt(port, 10))
}

// addrObject is {address, family, port} of a TCP address.
func (r *runtime) addrObject(a net.Addr) goja.Value {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return r.vm.ToValue(map[string]any{"address": a.String(), "family": "", "port": 0})
	}
	fam := "IPv4"
	if ta.IP.To4() == nil {
		fam = "IPv6"
	}
	return r.vm.ToValue(map[string]any{"address": ta.IP.String(), "family": fam, "port": ta.Port})
}

// jsListener is a TCP listener with a JavaScript handle; closed is set on
// the loop when the handle's close() runs.
type jsListener struct {
	net.Listener
	closed bool
}

// listen opens the TCP listener of tcpListen or httpListen(host, port,
// ...) and makes its handle {address(), close()}. A listener keeps the
// process alive until closed; close() closes it once and then calls
// onClose, if set.
func (r *runtime) listen(c goja.FunctionCall, onClose func()) (*jsListener, *goja.Object) {
	ln, err := wasip1.Listen("tcp", listenAddr(c.Argument(0).String(), c.Argument(1).ToInteger()))
	if err != nil {
		r.throw(err, "listen", "")
	}
	r.loop.ref()
	jl := &jsListener{Listener: ln}
	h := r.vm.NewObject()
	h.Set("address", func() goja.Value { return r.addrObject(ln.Addr()) })
	h.Set("close", func() {
		if jl.closed {
			return
		}
		jl.closed = true
		ln.Close()
		if onClose != nil {
			onClose()
		}
		r.loop.unref()
	})
	return jl, h
}

// bindNet adds TCP servers and sockets for lib/net.js.
func (r *runtime) bindNet() {
	l := r.loop
	// tcpListen(host, port, onConnection(sock)) returns {address(),
	// close()}; a listening server keeps the process alive until closed.
	r.set("tcpListen", func(c goja.FunctionCall) goja.Value {
		onConn := c.Argument(2)
		ln, h := r.listen(c, nil)
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				l.post(func() {
					if ln.closed {
						conn.Close()
						return
					}
					l.callValue(onConn, r.socketObject(conn))
				})
			}
		}()
		return h
	})
	// tcpConnect(host, port, cb(err, sock))
	r.set("tcpConnect", func(c goja.FunctionCall) goja.Value {
		addr := net.JoinHostPort(c.Argument(0).String(), strconv.FormatInt(c.Argument(1).ToInteger(), 10))
		cb := c.Argument(2)
		l.ref()
		go func() {
			conn, err := wasip1.DialContext(context.Background(), "tcp", addr)
			l.post(func() {
				l.unref()
				if err != nil {
					l.callValue(cb, r.nodeError(err, "connect", ""))
					return
				}
				l.callValue(cb, goja.Null(), r.socketObject(conn))
			})
		}()
		return nil
	})
}

// socketObject is the handle of a connected socket: start(onData, onEnd,
// onError) begins reading, write(buf, cb) queues a write, shutdown() ends
// the write side after queued writes, close() closes it. An open socket
// keeps the process alive until it is closed, or both ends are done.
func (r *runtime) socketObject(conn net.Conn) *goja.Object {
	l := r.loop
	h := r.vm.NewObject()
	h.Set("local", r.addrObject(conn.LocalAddr()))
	h.Set("remote", r.addrObject(conn.RemoteAddr()))
	type wop struct {
		data     []byte
		cb       goja.Value
		shutdown bool
	}
	writes := newQueue[wop]()
	closed := false
	l.ref()               // released by close
	closeOnce := func() { // loop goroutine only
		if !closed {
			closed = true
			conn.Close()
			l.unref()
		}
	}
	go func() { // writer
		for {
			ops := writes.take()
			if len(ops) == 0 {
				<-writes.signal
				continue
			}
			for _, op := range ops {
				if op.shutdown {
					if cw, ok := conn.(interface{ CloseWrite() error }); ok {
						cw.CloseWrite()
					}
					if op.cb != nil {
						cb := op.cb
						l.post(func() {
							l.unref()
							l.callValue(cb)
						})
					}
					return
				}
				_, err := conn.Write(op.data)
				cb := op.cb
				l.post(func() {
					l.unref()
					if err != nil {
						l.callValue(cb, r.nodeError(err, "write", ""))
					} else {
						l.callValue(cb)
					}
				})
				if err != nil {
					return
				}
			}
		}
	}()
	h.Set("start", func(onData, onEnd, onError goja.Value) {
		l.ref()
		go func() { // reader
			for {
				buf := make([]byte, 64*1024)
				n, err := conn.Read(buf)
				if n > 0 {
					data := buf[:n]
					l.post(func() { l.callValue(onData, r.wrap(data)) })
				}
				if err != nil {
					l.post(func() {
						l.unref()
						if errors.Is(err, io.EOF) {
							l.callValue(onEnd)
						} else if !closed {
							l.callValue(onError, r.nodeError(err, "read", ""))
						}
					})
					return
				}
			}
		}()
	})
	h.Set("write", func(data, cb goja.Value) {
		if closed {
			return
		}
		l.ref()
		writes.push(wop{data: append([]byte(nil), r.bytesOf(data)...), cb: cb})
	})
	h.Set("shutdown", func(cb goja.Value) {
		l.ref()
		writes.push(wop{shutdown: true, cb: cb})
	})
	h.Set("close", func() {
		closeOnce()
		writes.push(wop{shutdown: true}) // ends the writer
	})
	return h
}
