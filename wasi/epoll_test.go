package wasi

import (
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// putSub writes subscription i at base: an fd subscription (tag 1 read, 2
// write) or, for tag 0, a relative monotonic clock of timeout ns.
func (h *harness) putSub(base uint32, i int, userdata uint64, tag byte, fdOrTimeout uint64) {
	h.t.Helper()
	p := base + uint32(i)*subscriptionLen
	h.write(p, make([]byte, subscriptionLen))
	h.writeU64(p, userdata)
	h.write(p+8, []byte{tag})
	if tag == eventtypeClock {
		h.writeU32(p+16, clockMonotonic)
		h.writeU64(p+24, fdOrTimeout)
	} else {
		h.writeU32(p+16, uint32(fdOrTimeout))
	}
}

// oneoff calls name with n subscriptions at 2048 and returns the userdata
// of each event and its nbytes.
func (h *harness) oneoff(name string, n int) (userdata []uint64, nbytes []uint64) {
	h.t.Helper()
	const in, out, nev = 2048, 4096, 8000
	h.expectErrno(0, name, in, out, uint64(n), nev)
	for i := uint32(0); i < h.u32(nev); i++ {
		e := out + i*eventLen
		if errno := sys.Errno(h.u32(e+8) & 0xffff); errno != 0 {
			h.t.Errorf("event %d has error %v", i, errno)
		}
		userdata = append(userdata, h.u64(e))
		nbytes = append(nbytes, h.u64(e+16))
	}
	return userdata, nbytes
}

// TestEpollOneoffEdgeTriggered: a descriptor is reported once per change of
// readiness; poll_oneoff (level-triggered) reports it every time.
func TestEpollOneoffEdgeTriggered(t *testing.T) {
	h := newHarness(t, Config{})
	lfd, port := h.listen4()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.expectErrno(0, "sock_accept", lfd, uint64(sys.FdflagNonblock), pFD)
	conn := uint64(h.u32(pFD))
	const in = 2048
	clock := uint64(50 * time.Millisecond)

	// Writable: reported on the first epoll_oneoff, then not again.
	h.putSub(in, 0, 1, eventtypeFdWrite, conn)
	h.putSub(in, 1, 2, eventtypeClock, uint64(10*time.Second))
	if ud, _ := h.oneoff("epoll_oneoff", 2); len(ud) != 1 || ud[0] != 1 {
		t.Fatalf("first epoll_oneoff: events %v, want [1]", ud)
	}
	h.putSub(in, 1, 2, eventtypeClock, clock)
	start := time.Now()
	if ud, _ := h.oneoff("epoll_oneoff", 2); len(ud) != 1 || ud[0] != 2 {
		t.Fatalf("second epoll_oneoff: events %v, want only the clock [2]", ud)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("second epoll_oneoff returned after %v, before its clock", d)
	}
	// poll_oneoff is level-triggered: still writable.
	if ud, _ := h.oneoff("poll_oneoff", 2); len(ud) != 1 || ud[0] != 1 {
		t.Fatalf("poll_oneoff: events %v, want [1]", ud)
	}

	// Readable: reported when data arrives, not again while it sits
	// unread, and again when more arrives.
	h.putSub(in, 0, 3, eventtypeFdRead, conn)
	h.putSub(in, 1, 4, eventtypeClock, uint64(10*time.Second))
	c.Write([]byte("a"))
	if ud, nb := h.oneoff("epoll_oneoff", 2); len(ud) != 1 || ud[0] != 3 || nb[0] != 1 {
		t.Fatalf("after a write: events %v nbytes %v, want [3] [1]", ud, nb)
	}
	h.putSub(in, 1, 4, eventtypeClock, clock)
	if ud, _ := h.oneoff("epoll_oneoff", 2); len(ud) != 1 || ud[0] != 4 {
		t.Fatalf("unread data reported again: events %v, want only the clock", ud)
	}
	c.Write([]byte("b"))
	h.putSub(in, 1, 4, eventtypeClock, uint64(10*time.Second))
	if ud, nb := h.oneoff("epoll_oneoff", 2); len(ud) != 1 || ud[0] != 3 || nb[0] != 2 {
		t.Fatalf("after a second write: events %v nbytes %v, want [3] [2]", ud, nb)
	}

	// The peer hangs up: one read event with HANGUP. (WSAPoll, as Wine
	// shows, says nothing of a hang-up behind unread input: it is read
	// first there.)
	if runtime.GOOS == "windows" {
		h.writeIovecs(pIov, [2]uint32{pData, 16})
		h.expectErrno(0, "fd_read", conn, pIov, 1, pN)
	}
	c.Close()
	h.putSub(in, 0, 5, eventtypeFdRead, conn)
	h.expectErrno(0, "epoll_oneoff", in, 4096, 2, 8000)
	if n := h.u32(8000); n != 1 || h.u64(4096) != 5 || h.u32(4096+24)&0xffff != eventrwflagHangup {
		t.Fatalf("hang-up: %d events, userdata %d, flags %#x", n, h.u64(4096), h.u32(4096+24))
	}
	h.expectErrno(sys.EINVAL, "epoll_oneoff", in, 4096, 0, 8000)
	h.expectErrno(sys.EFAULT, "epoll_oneoff", in, 4096, 2, pBad)
}
