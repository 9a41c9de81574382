package wasi

import (
	"net"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// FuzzHostCalls calls short sequences of the host functions that are not
// the file system's (FuzzFilesystem has those) with arbitrary parameters
// over guest memory the fuzzer fills: sockets, clocks, randomness,
// arguments and environment, signals, and the fd_* calls that apply to
// sockets (FuzzPollOneoff has the poll calls). Every call must return a preview1 errno, never trap, and
// create nothing outside the preopen (a Unix socket's path). The calls run
// in a network namespace of the test's own (loopback only), where the
// guest has a TCP listener on 127.0.0.1:8080 (fd 4) and a UDP socket on
// 127.0.0.1:8081 (fd 5): whatever address the fuzzer connects or sends
// to, nothing leaves the namespace. A call that would block for good (a
// receive or an accept on a blocking socket) is ended by shutting the
// guest's sockets down.
func FuzzHostCalls(f *testing.F) {
	inNetns := privateNetns(f)
	var files []*os.File
	inNetns(func() {
		l, err := net.Listen("tcp4", "127.0.0.1:8080")
		if err != nil {
			f.Fatal(err)
		}
		u, err := net.ListenPacket("udp4", "127.0.0.1:8081")
		if err != nil {
			f.Fatal(err)
		}
		lf, _ := l.(*net.TCPListener).File()
		uf, _ := u.(*net.UDPConn).File()
		l.Close()
		u.Close()
		files = append(files, lf, uf)
	})
	f.Cleanup(func() {
		for _, fl := range files {
			fl.Close()
		}
	})
	outside := tempDir(f)
	// Names go to a nameserver on the namespace's loopback (nobody there)
	// or come from the hosts file.
	etc := tempDir(f)
	resolv, hosts := etc+"/resolv.conf", etc+"/hosts"
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost app.test\n::1 localhost\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	h := newHarness(f, Config{Listeners: files, Args: []string{"app", "-x"}, Env: []string{"A=b"}, ResolvConf: resolv, Hosts: hosts})
	// The preopen's tree, with a link "out" to outside: a Unix socket
	// bound or connected through it must not appear there.
	fuzzTree(f, h.dir, outside)
	var names []string
	for name := range h.funcs {
		switch {
		case name == "proc_exit", name == "proc_raise": // they end the guest
		case name == "poll_oneoff", name == "epoll_oneoff":
			// FuzzPollOneoff has them, with a timeout of 0 added: here
			// one could wait for good on nothing, as asked.
		case strings.HasPrefix(name, "path_"):
		case strings.HasPrefix(name, "fd_") && !socketFD[name]:
		default:
			names = append(names, name)
		}
	}
	sort.Strings(names)
	which := func(name string) byte { return byte(sort.SearchStrings(names, name)) }

	// Guest memory of the seeds: an address {64, 128} at 32 (127.0.0.1 in
	// the 128-byte form), an iovec {1024, 5} at 256, data at 1024;
	// results at 8.
	mem := make([]byte, 1100)
	copy(mem[32:], []byte{64, 0, 0, 0, 128, 0, 0, 0})
	copy(mem[64:], []byte{byte(sys.AFInet4), 0, 127, 0, 0, 1})
	copy(mem[256:], []byte{0, 4, 0, 0, 5, 0, 0, 0})
	copy(mem[1024:], "hello")
	// One call each, with parameters that work (fd 4 is the listener, 5
	// the UDP socket), for the fuzzer to take apart; then sequences.
	for _, c := range []struct {
		name string
		p    []uint64
	}{
		{"sock_getlocaladdr", []uint64{4, 32, 8}},
		{"sock_getpeeraddr", []uint64{5, 32, 8}},
		{"sock_send_to", []uint64{5, 256, 1, 32, 8081, 0, 8}},
		{"sock_recv_from", []uint64{5, 256, 1, 32, 0, 8, 12, 16}},
		{"sock_getsockopt", []uint64{4, 0, 2, 1024, 4}},
		{"sock_setsockopt", []uint64{5, 0, 3, 1024, 4}},
		{"sock_getaddrinfo", []uint64{1024, 5, 1024, 0, 0, 32, 4, 8}},
		{"fd_write", []uint64{5, 256, 1, 8}},
		{"random_get", []uint64{1024, 64}},
		{"args_get", []uint64{0, 512}},
		{"clock_time_get", []uint64{1, 0, 8}},
	} {
		// As is, then with each parameter at 2 bytes before the end of
		// memory (bias32 maps 1<<30|2 there).
		for i := -1; i < len(c.p); i++ {
			raw := make([]uint64, 9)
			copy(raw, c.p)
			if i >= 0 {
				raw[i] = 1<<30 | 2
			}
			f.Add([]byte{which(c.name)}, mem, raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8])
		}
	}
	// A Unix address through the link, for a bind of a socket the seed
	// does not have yet (the fuzzer's to find).
	unixMem := slices.Clone(mem)
	copy(unixMem[64:], append([]byte{byte(sys.AFUnix), 0}, "/out/s.sock\x00"...))
	f.Add([]byte{which("sock_open"), which("sock_bind")}, unixMem,
		uint64(sys.AFUnix), uint64(sys.SockStream), uint64(8), uint64(6), uint64(32), uint64(0), uint64(0), uint64(0), uint64(6))
	f.Add([]byte{which("sock_open"), which("sock_connect"), which("sock_send"), which("sock_recv")}, mem,
		uint64(1), uint64(1), uint64(0), uint64(6), uint64(32), uint64(8080), uint64(0), uint64(0), uint64(0))
	f.Add([]byte{which("sock_send_to"), which("sock_getpeeraddr"), which("sock_setsockopt"), which("sock_shutdown")}, mem,
		uint64(5), uint64(256), uint64(1), uint64(32), uint64(8081), uint64(0), uint64(4), uint64(0), uint64(0xffff))
	f.Fuzz(func(t *testing.T, seq []byte, mem []byte, a, b, c, d, e, g, i, j, k uint64) {
		h.t = t
		if len(seq) > 4 {
			seq = seq[:4]
		}
		h.fill(0)
		for n, w := range seq {
			raw := []uint64{a, b, c, d, e, g, i, j, k}
			raw = append(raw[n%len(raw):], raw[:n%len(raw)]...)
			// A call that would wait for good (a receive or an accept on a
			// blocking socket) waits on a socket the guest has now:
			// shutting them all down ends it.
			var socks []int
			h.sys.FDs.Range(func(_ int32, f *sys.File) bool {
				if f.Sock != nil {
					socks = append(socks, f.Fd)
				}
				return true
			})
			stuck := time.AfterFunc(50*time.Millisecond, func() {
				for _, fd := range socks {
					unix.Shutdown(fd, unix.SHUT_RDWR)
				}
			})
			inNetns(func() { fuzzCall(t, h, names, w, mem, raw) })
			stuck.Stop()
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("created %s outside the preopen", ents[0].Name())
		}
		fuzzReset(h)
	})
}

// socketFD are the fd_* functions that apply to a socket too.
var socketFD = map[string]bool{
	"fd_read": true, "fd_write": true, "fd_close": true, "fd_fdstat_get": true,
	"fd_fdstat_set_flags": true, "fd_renumber": true, "fd_filestat_get": true,
}

// privateNetns makes a network namespace with loopback up for f (closed
// with it; skipped without root) and returns how to run a function in it:
// on the calling goroutine's thread, which enters the namespace for it
// and leaves after, so the sockets it makes are the namespace's.
func privateNetns(f *testing.F) func(func()) {
	if os.Geteuid() != 0 {
		f.Skip("needs root (a network namespace of its own)")
	}
	type made struct {
		fd  int
		err error
	}
	c := make(chan made)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			c <- made{-1, err}
			return
		}
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			var ifr *unix.Ifreq
			if ifr, err = unix.NewIfreq("lo"); err == nil {
				ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
				err = unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
			}
			unix.Close(s)
		}
		fd := -1
		if err == nil {
			fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		c <- made{fd, err}
	}()
	ns := <-c
	if ns.err != nil {
		f.Fatalf("private network namespace: %v", ns.err)
	}
	f.Cleanup(func() { unix.Close(ns.fd) })
	return func(fn func()) {
		runtime.LockOSThread()
		// Errors here are the machine's, not the code's under test.
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			panic(err)
		}
		defer unix.Close(orig)
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			panic(err)
		}
		defer func() {
			if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
				panic(err) // the thread stays locked, in the namespace
			}
			runtime.UnlockOSThread()
		}()
		fn()
	}
}
