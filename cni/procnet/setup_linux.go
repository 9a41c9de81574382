package procnet

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Setup runs in the container process, in its namespace, before the guest
// starts: lo up, and the dial server for the forwarder.
func (c Child) Setup(id string) error {
	if c.Loopback {
		if err := LoopbackUp(); err != nil {
			return err
		}
	}
	if c.DialFD > 0 {
		f := os.NewFile(uintptr(c.DialFD), "dial")
		go func() {
			if err := serveDial(f, c.Dial); err != nil {
				fmt.Fprintf(os.Stderr, "wasmrun: container %s: forwarder: %v\n", id, err)
			}
		}()
	}
	return nil
}

// LoopbackUp sets lo up in the calling thread's network namespace the way
// `ifconfig lo up` does (SIOCSIFFLAGS): several times faster than a
// netlink lookup plus RTM_NEWLINK in a fresh namespace. A process that
// created its own network namespace (a rootless container process:
// CLONE_NEWUSER|CLONE_NEWNET, so it holds CAP_NET_ADMIN there) calls it
// for itself, since nobody outside can enter that namespace without
// privileges.
func LoopbackUp() error {
	if err := loUp(); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
