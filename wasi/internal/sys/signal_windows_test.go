package sys

import (
	"context"
	"syscall"
	"testing"
)

// TestWindowsSignalPipe: a subscription gives the guest a descriptor that
// WSAPoll waits on and that reads the signal numbers delivered, merged
// while unread, as on Linux.
func TestWindowsSignalPipe(t *testing.T) {
	s := &System{}
	defer s.Close()
	g := NewSignals()
	defer g.Close()
	if _, errno := g.Subscribe(s, int(syscall.SIGHUP)); errno != EINVAL {
		t.Errorf("subscribe SIGHUP = %s, want EINVAL (Windows never delivers it)", errno.Name())
	}
	fd, errno := g.Subscribe(s, int(syscall.SIGINT))
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	if fd2, errno := g.Subscribe(s, int(syscall.SIGTERM)); errno != 0 || fd2 != fd {
		t.Errorf("second subscription = %d, %s; want the same fd %d", fd2, errno.Name(), fd)
	}
	f, _ := s.Lookup(fd)
	if st, errno := s.Filestat(fd); errno != 0 || st.Type != FiletypeUnknown || f.Has(RightFdWrite) {
		t.Errorf("the signal descriptor: %+v, %s, rights %#x", st, errno.Name(), f.RightsBase)
	}
	p := NewPoller()
	defer p.Close()
	ready := func() bool {
		fds := []PollFd{NewPollFd(f.Fd, PollIn)}
		n, errno := p.Wait(context.Background(), fds, []Timer{{Clock: ClockMonotonic}})
		return errno == 0 && n == 1
	}
	if ready() {
		t.Fatal("ready before any signal")
	}
	g.deliver(int(syscall.SIGINT))
	g.deliver(int(syscall.SIGINT)) // merged: still unread
	g.deliver(int(syscall.SIGTERM))
	if !ready() {
		t.Fatal("not ready after a delivery")
	}
	buf := make([]byte, 8)
	var got []byte
	for ready() {
		n, errno := s.Read(fd, [][]byte{buf})
		if errno != 0 {
			t.Fatal(errno.Name())
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "\x02\x0f" {
		t.Errorf("read %v, want [2 15]", got)
	}
	g.deliver(int(syscall.SIGINT)) // read: delivered again
	if n, errno := s.Read(fd, [][]byte{buf}); n != 1 || errno != 0 || buf[0] != 2 {
		t.Errorf("after reading, a new SIGINT reads %d, %s, %v", n, errno.Name(), buf[:n])
	}
	if errno := g.Unsubscribe(int(syscall.SIGINT)); errno != 0 {
		t.Errorf("unsubscribe: %s", errno.Name())
	}
	if subs := g.Subscribed(); len(subs) != 1 || subs[0] != int(syscall.SIGTERM) {
		t.Errorf("subscribed = %v", subs)
	}
	// The guest closes its end: deliveries are lost, nothing fails.
	if errno := s.CloseFD(fd); errno != 0 {
		t.Fatal(errno.Name())
	}
	g.deliver(int(syscall.SIGTERM))
}
