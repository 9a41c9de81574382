//go:build linux || darwin

package wasi

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Benchmarks of the socket calls through the proxy harness, on loopback:
// what a guest pays per call, host function and system calls included.
// They exist to show that optional work (Config.SocketEvents) costs
// nothing when it is off: compare a run before and after a change with
// benchstat. Besides ns/op (wall time), each reports cpu-ns/op, the
// process's CPU time (user and system) per operation, which a loaded
// machine inflates far less than wall time.

// benchConfigs are the host configurations each benchmark runs under.
var benchConfigs = []struct {
	name string
	cfg  func() Config
}{
	{"events-off", func() Config { return Config{} }},
	{"events-on", func() Config { return Config{SocketEvents: func(SocketEvent) {}} }},
}

// BenchmarkSockConnectAccept is one connection's life: sock_open,
// sock_connect (blocking) to a listener on 127.0.0.1, sock_accept, and
// fd_close of both ends.
func BenchmarkSockConnectAccept(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarness(b, bc.cfg())
			lfd, port := h.listen4()
			h.putAddrV1(ip4Loopback)
			defer startCPU(b)()
			for i := 0; i < b.N; i++ {
				c := h.sockOpen(sys.AFInet4, sys.SockStream)
				if errno := h.call("sock_connect", c, pAddr, uint64(port)); errno != 0 {
					b.Fatalf("sock_connect = %v", errno)
				}
				if errno := h.call("sock_accept", lfd, 0, pFD); errno != 0 {
					b.Fatalf("sock_accept = %v", errno)
				}
				s := uint64(h.u32(pFD))
				h.call("fd_close", c)
				h.call("fd_close", s)
			}
		})
	}
}

// BenchmarkSockBindListen is sock_open, sock_bind to 127.0.0.1:0,
// sock_listen and fd_close.
func BenchmarkSockBindListen(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarness(b, bc.cfg())
			h.putAddrV1(ip4Loopback)
			defer startCPU(b)()
			for i := 0; i < b.N; i++ {
				fd := h.sockOpen(sys.AFInet4, sys.SockStream)
				if errno := h.call("sock_bind", fd, pAddr, 0); errno != 0 {
					b.Fatalf("sock_bind = %v", errno)
				}
				if errno := h.call("sock_listen", fd, 16); errno != 0 {
					b.Fatalf("sock_listen = %v", errno)
				}
				h.call("fd_close", fd)
			}
		})
	}
}

// BenchmarkSockPingPong is a 64-byte sock_send and the sock_recv of it
// on a connected loopback pair.
func BenchmarkSockPingPong(b *testing.B) {
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarness(b, bc.cfg())
			lfd, port := h.listen4()
			h.putAddrV1(ip4Loopback)
			c := h.sockOpen(sys.AFInet4, sys.SockStream)
			if errno := h.call("sock_connect", c, pAddr, uint64(port)); errno != 0 {
				b.Fatalf("sock_connect = %v", errno)
			}
			if errno := h.call("sock_accept", lfd, 0, pFD); errno != 0 {
				b.Fatalf("sock_accept = %v", errno)
			}
			s := uint64(h.u32(pFD))
			h.writeIovecs(pIov, [2]uint32{pData, 64})
			defer startCPU(b)()
			for i := 0; i < b.N; i++ {
				if errno := h.call("sock_send", c, pIov, 1, 0, pN); errno != 0 {
					b.Fatalf("sock_send = %v", errno)
				}
				if errno := h.call("sock_recv", s, pIov, 1, uint64(sys.RiflagRecvWaitall), pN, pFlags); errno != 0 {
					b.Fatalf("sock_recv = %v", errno)
				}
			}
		})
	}
}

// BenchmarkPollOneoffNetpoller is poll_oneoff shaped like Go's netpoller:
// read subscriptions on 16 connected sockets, a write subscription on one
// more, and a clock; only the last is ready.
func BenchmarkPollOneoffNetpoller(b *testing.B) {
	h := newHarness(b, Config{})
	lfd, port := h.listen4()
	h.putAddrV1(ip4Loopback)
	subs := [][]byte{clockSub(0, clockMonotonic, uint64(10*time.Second), 0)}
	for i := 0; i < 8; i++ {
		c := h.sockOpen(sys.AFInet4, sys.SockStream)
		if errno := h.call("sock_connect", c, pAddr, uint64(port)); errno != 0 {
			b.Fatalf("sock_connect = %v", errno)
		}
		if errno := h.call("sock_accept", lfd, 0, pFD); errno != 0 {
			b.Fatalf("sock_accept = %v", errno)
		}
		s := int32(h.u32(pFD))
		subs = append(subs, fdSub(uint64(2*i+1), eventtypeFdRead, s), fdSub(uint64(2*i+2), eventtypeFdRead, int32(c)))
	}
	// The one ready descriptor, last in the set, as the kernel sees the
	// most work when the ready one comes late (it registers a waiter on
	// each descriptor before the first ready one).
	w := h.sockOpen(sys.AFInet4, sys.SockDgram)
	subs = append(subs, fdSub(99, eventtypeFdWrite, int32(w)))
	h.write(pollIn, bytes.Join(subs, nil))
	defer startCPU(b)()
	for i := 0; i < b.N; i++ {
		if errno := h.call("poll_oneoff", pollIn, pollOut, uint64(len(subs)), pollNevents); errno != 0 {
			b.Fatalf("poll_oneoff = %v", errno)
		}
	}
}

// startCPU resets b's timer and returns a func that reports the process's
// CPU time per operation since then as cpu-ns/op.
func startCPU(b *testing.B) func() {
	var start unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &start)
	b.ResetTimer()
	return func() {
		var end unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &end)
		cpu := time.Duration(end.Utime.Nano() - start.Utime.Nano() + end.Stime.Nano() - start.Stime.Nano())
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
