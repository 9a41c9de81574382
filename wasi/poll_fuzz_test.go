//go:build linux || darwin

package wasi

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// FuzzPollOneoff calls poll_oneoff and epoll_oneoff with arbitrary
// subscriptions (up to 8, on descriptors 0-15: stdio, the preopen, a pipe
// with data, a socket, a regular file, and closed ones) followed by a
// relative clock of 0, so a call never waits. Each call must return an
// errno and never trap, must leave the poll set's scratch slots as it found
// them (all zero), and a well-formed call after it must still report the
// readable pipe: what one call decodes must never leak into the next.
func FuzzPollOneoff(f *testing.F) {
	h := newHarness(f, Config{})
	r, w := h.pipeFD(true)
	if _, err := unix.Write(w, []byte("xyz")); err != nil {
		f.Fatal(err)
	}
	h.sockOpen(sys.AFInet4, sys.SockStream)
	h.writeString(pData, "file")
	if errno := h.call("path_open", harnessPreopenFD, 0, pData, 4, 1, uint64(sys.RightsStream|sys.RightPollFdReadwrite), 0, 0, pFD); errno != 0 {
		f.Fatalf("path_open = %v", errno)
	}
	badTag := clockSub(2, clockMonotonic, 0, 0)
	badTag[8] = 3
	f.Add(false, bytes.Join([][]byte{fdSub(1, eventtypeFdRead, r), badTag}, nil))
	f.Add(true, bytes.Join([][]byte{fdSub(1, eventtypeFdRead, r), fdSub(2, eventtypeFdWrite, r), clockSub(3, clockRealtime, 1, 1)}, nil))
	f.Add(false, bytes.Join([][]byte{fdSub(1, eventtypeFdWrite, 5), fdSub(2, eventtypeFdRead, 6), fdSub(3, eventtypeFdRead, 12), clockSub(4, 9, 0, 0)}, nil))
	f.Fuzz(func(t *testing.T, edge bool, subs []byte) {
		h.t = t
		name := "poll_oneoff"
		if edge {
			name = "epoll_oneoff"
		}
		n := min(len(subs)/subscriptionLen, 8)
		in := make([]byte, 0, (n+1)*subscriptionLen)
		for i := 0; i < n; i++ {
			s := subs[i*subscriptionLen : (i+1)*subscriptionLen]
			if s[8] != eventtypeClock {
				putLe32(s[16:], le32(s[16:])%16) // a descriptor near the open ones
			}
			in = append(in, s...)
		}
		in = append(in, clockSub(99, clockMonotonic, 0, 0)...)
		h.fill(pollMarker)
		h.write(pollIn, in)
		h.call(name, pollIn, pollOut, uint64(n+1), pollNevents)
		for fd, slot := range h.host.pollSlots {
			if slot != 0 {
				t.Fatalf("scratch slot of fd %d is %d after the call", fd, slot)
			}
		}
		if errno := h.poll(fdSub(7, eventtypeFdRead, r)); errno != 0 {
			t.Fatalf("poll_oneoff after it = %v", errno)
		}
		h.expectEvents(event(7, 0, eventtypeFdRead, 3, 0))
	})
}
