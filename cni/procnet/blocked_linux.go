package procnet

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// HostBlocked keeps an app's block list current, for a process in the
// host's network namespace (the creator's socket server, or the container
// process under simulated isolation): BlockedFromApps(subnet) plus fixed
// ones, recomputed when the host's links, addresses, routes or rules have
// changed since. A netlink socket subscribed to their changes tells: it
// is read (never waited on) at each ask, and anything there, or its
// overflow, means a change. Each list has a generation of its own.
type HostBlocked struct {
	subnet string
	fixed  []netip.Prefix
	log    func(format string, args ...any)

	mu    sync.Mutex
	nl    int // the netlink socket; -1 once closed
	gen   uint64
	list  []netip.Prefix
	stale bool // a change was seen and the list not yet recomputed
}

// NewHostBlocked subscribes first, then computes the first list, so that
// no change between the two is missed.
func NewHostBlocked(subnet string, fixed []netip.Prefix, log func(format string, args ...any)) (*HostBlocked, error) {
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("watch the host's addresses: %w", err)
	}
	groups := uint32(unix.RTMGRP_LINK|unix.RTMGRP_IPV4_IFADDR|unix.RTMGRP_IPV6_IFADDR|unix.RTMGRP_IPV4_ROUTE|unix.RTMGRP_IPV6_ROUTE) |
		1<<(unix.RTNLGRP_IPV4_RULE-1) | 1<<(unix.RTNLGRP_IPV6_RULE-1)
	if err := unix.Bind(nl, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(nl)
		return nil, fmt.Errorf("watch the host's addresses: %w", err)
	}
	h := &HostBlocked{subnet: subnet, fixed: fixed, log: log, nl: nl}
	if h.list, err = h.compute(); err != nil {
		unix.Close(nl)
		return nil, err
	}
	h.gen = 1
	return h, nil
}

func (h *HostBlocked) compute() ([]netip.Prefix, error) {
	now, err := BlockedFromApps(h.subnet)
	if err != nil {
		return nil, err
	}
	return append(now, h.fixed...), nil
}

// Current returns the list and its generation, recomputed first if the
// host changed. A failed recomputation keeps the last list and tries
// again at the next ask.
func (h *HostBlocked) Current() (uint64, []netip.Prefix) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nl >= 0 && h.changed() {
		h.stale = true // until a recomputation succeeds
	}
	if h.stale {
		list, err := h.compute()
		if err != nil {
			h.log("outbound: list the host's addresses: %v", err)
			return h.gen, h.list
		}
		h.stale = false
		if !slices.Equal(list, h.list) {
			h.gen++
			h.list = list
		}
	}
	return h.gen, h.list
}

// changed drains the netlink socket and reports whether anything was
// there (a change, or an overflow of them).
func (h *HostBlocked) changed() bool {
	var buf [8192]byte
	changed := false
	for {
		_, _, err := unix.Recvfrom(h.nl, buf[:], 0)
		switch {
		case err == nil || err == unix.ENOBUFS:
			changed = true
		case err == unix.EINTR:
		default: // EAGAIN: drained
			return changed
		}
	}
}

func (h *HostBlocked) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nl >= 0 {
		unix.Close(h.nl)
		h.nl = -1
	}
}

// List is Current's list alone: one failed recvfrom when nothing
// changed.
func (h *HostBlocked) List() []netip.Prefix {
	_, l := h.Current()
	return l
}
