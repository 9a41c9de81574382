//go:build linux || darwin

package wasi

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Benchmarks of the calls a socket server guest makes per request
// (fd_read, fd_write, poll_oneoff, clock_time_get), each calling the host
// function directly, without the proxy's wazero call, so that allocs/op is
// the host function's own: the aim is 0. The context is cancellable, as
// wasmrun's is (poll_oneoff then arms its cancellation).

// hotCall calls host function name directly with params on a stack that is
// reused, and fails b on a non-zero errno.
type hotCall struct {
	b     *testing.B
	h     *harness
	ctx   context.Context
	fn    *hostFunc
	name  string
	stack []uint64
}

func (h *harness) hot(b *testing.B, ctx context.Context, name string, params ...uint64) *hotCall {
	return &hotCall{b: b, h: h, ctx: ctx, fn: h.funcs[name], name: name, stack: make([]uint64, len(params))}
}

func (c *hotCall) call(params ...uint64) {
	copy(c.stack, params)
	if errno := c.fn.fn(c.ctx, c.h.host, c.h.guest, c.stack); errno != 0 {
		c.b.Fatalf("%s = %v", c.name, errno)
	}
}

// connectedPair returns the guest fds of both ends of a loopback TCP
// connection, made non-blocking for the guest as Go makes them.
func (h *harness) connectedPair(b *testing.B) (client, server uint64) {
	lfd, port := h.listen4()
	h.putAddrV1(ip4Loopback)
	client = h.sockOpen(sys.AFInet4, sys.SockStream)
	if errno := h.call("sock_connect", client, pAddr, uint64(port)); errno != 0 {
		b.Fatalf("sock_connect = %v", errno)
	}
	if errno := h.call("sock_accept", lfd, uint64(sys.FdflagNonblock), pFD); errno != 0 {
		b.Fatalf("sock_accept = %v", errno)
	}
	server = uint64(h.u32(pFD))
	if errno := h.call("fd_fdstat_set_flags", client, uint64(sys.FdflagNonblock)); errno != 0 {
		b.Fatalf("fd_fdstat_set_flags = %v", errno)
	}
	return client, server
}

func cancellable(b *testing.B) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkHotFdWriteRead is a 64-byte fd_write on one end of a loopback
// connection and the fd_read of it on the other: a round trip's I/O.
func BenchmarkHotFdWriteRead(b *testing.B) {
	h := newHarness(b, Config{})
	c, s := h.connectedPair(b)
	ctx := cancellable(b)
	h.writeIovecs(pIov, [2]uint32{pData, 64})
	w, r := h.hot(b, ctx, "fd_write", c, pIov, 1, pN), h.hot(b, ctx, "fd_read", s, pIov, 1, pN)
	b.ReportAllocs()
	defer startCPU(b)()
	for i := 0; i < b.N; i++ {
		w.call(c, pIov, 1, pN)
		r.call(s, pIov, 1, pN)
	}
}

// BenchmarkHotSockSendRecv is BenchmarkHotFdWriteRead with sock_send and
// sock_recv.
func BenchmarkHotSockSendRecv(b *testing.B) {
	h := newHarness(b, Config{})
	c, s := h.connectedPair(b)
	ctx := cancellable(b)
	h.writeIovecs(pIov, [2]uint32{pData, 64})
	w, r := h.hot(b, ctx, "sock_send", c, pIov, 1, 0, pN), h.hot(b, ctx, "sock_recv", s, pIov, 1, 0, pN, pFlags)
	b.ReportAllocs()
	defer startCPU(b)()
	for i := 0; i < b.N; i++ {
		w.call(c, pIov, 1, 0, pN)
		r.call(s, pIov, 1, 0, pN, pFlags)
	}
}

// BenchmarkHotPollOneoffOneReady is poll_oneoff shaped like Go's
// netpoller under load: a clock and read subscriptions on 16 sockets, one
// of which has data.
func BenchmarkHotPollOneoffOneReady(b *testing.B) {
	for _, timeout := range []struct {
		name string
		d    time.Duration
	}{{"nonblocking", 0}, {"blocking", 10 * time.Second}} {
		b.Run(timeout.name, func(b *testing.B) {
			h := newHarness(b, Config{})
			ctx := cancellable(b)
			subs := [][]byte{clockSub(0, clockMonotonic, uint64(timeout.d), 0)}
			var last uint64
			for i := 0; i < 8; i++ {
				c, s := h.connectedPair(b)
				subs = append(subs, fdSub(uint64(2*i+1), eventtypeFdRead, int32(s)), fdSub(uint64(2*i+2), eventtypeFdRead, int32(c)))
				last = s
			}
			h.writeIovecs(pIov, [2]uint32{pData, 1})
			if errno := h.call("fd_write", last, pIov, 1, pN); errno != 0 { // makes the last client end readable
				b.Fatalf("fd_write = %v", errno)
			}
			h.write(pollIn, bytes.Join(subs, nil))
			p := h.hot(b, ctx, "poll_oneoff", pollIn, pollOut, uint64(len(subs)), pollNevents)
			b.ReportAllocs()
			defer startCPU(b)()
			for i := 0; i < b.N; i++ {
				p.call(pollIn, pollOut, uint64(len(subs)), pollNevents)
			}
			b.StopTimer()
			want := uint32(1) // the socket, and the clock when it has expired
			if timeout.d == 0 {
				want = 2
			}
			if n := h.u32(pollNevents); n != want {
				b.Fatalf("nevents = %d, want %d", n, want)
			}
		})
	}
}

// BenchmarkHotClockTimeGet is clock_time_get of the monotonic clock.
func BenchmarkHotClockTimeGet(b *testing.B) {
	h := newHarness(b, Config{})
	c := h.hot(b, context.Background(), "clock_time_get", clockMonotonic, 1, pN)
	b.ReportAllocs()
	defer startCPU(b)()
	for i := 0; i < b.N; i++ {
		c.call(clockMonotonic, 1, pN)
	}
}
