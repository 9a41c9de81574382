package cni

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// The host guard of a bridge of ours: the rules in each namespace (see
// isolation) reject the host's addresses as they were when the namespace
// was made, one by one. The host knows better at each packet: an address
// it gains later (an interface comes up) and the broadcast address of any
// of its networks are its own too, and a packet from an app to one of
// them would be delivered to the host's services. So the host's own
// filter table holds, for each bridge of ours, a chain that INPUT jumps to
// for what comes in from the bridge: replies pass (forwards, the app's own
// connections out); anything new to an address the host's routing table
// calls its own (local, broadcast, multicast, anycast) is refused, whenever
// the address came. (Each namespace's own rules stay: a second wall,
// and the host's other apps.) It is made with the bridge's first isolated namespace
// and removed with the bridge (releaseBridgeLocked), before it: a run
// killed in between leaves the bridge, which the next one claims and
// guards again, never a chain without its bridge.

// hostGuardChain is the chain of bridge's host guard (28 characters at
// most: a bridge name has 15).
func hostGuardChain(bridge string) string { return "WASMRUN-IN-" + bridge }

// hostGuardRules is the iptables-restore input (with --noflush) that
// makes the chain of bridge for family 4 or 6, emptied first.
func hostGuardRules(bridge string, family int) string {
	chain := hostGuardChain(bridge)
	reject := "REJECT --reject-with icmp-admin-prohibited"
	if family == 6 {
		reject = "REJECT --reject-with icmp6-adm-prohibited"
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("*filter")
	w(":%s - [0:0]", chain)
	w("-A %s -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN", chain)
	if family == 6 {
		// Neighbour discovery: to the gateway (the bridge's address, or
		// its solicited-node multicast one) an app must find its way.
		for _, t := range []string{"neighbour-solicitation", "neighbour-advertisement", "router-solicitation"} {
			w("-A %s -p ipv6-icmp --icmpv6-type %s -j RETURN", chain, t)
		}
	}
	// What comes to INPUT is for the host itself: refused (a unicast
	// address at once, as a firewall rejects; a broadcast or multicast
	// one, which no error answers, dropped).
	w("-A %s -m addrtype --dst-type LOCAL -j %s", chain, reject)
	w("-A %s -j DROP", chain)
	w("COMMIT")
	return b.String()
}

// guardHost makes sure bridge's host guard is in place, for IPv4 and
// IPv6: the chain, then INPUT's jump to it (first). Made already (the jump
// is there), it costs a check.
func guardHost(bridge string) error {
	for _, fam := range []int{4, 6} {
		jump := []string{"INPUT", "-i", bridge, "-j", hostGuardChain(bridge)}
		if iptables(fam, append([]string{"-C"}, jump...)...) == nil {
			continue
		}
		// A new guard: the guards of bridges gone meanwhile (deleted by
		// someone else) go first.
		removeStaleGuards(fam)
		if err := restore(fam, hostGuardRules(bridge, fam), "--noflush"); err != nil {
			return fmt.Errorf("guard the host from bridge %s: %w", bridge, err)
		}
		if err := iptables(fam, append([]string{"-I", jump[0], "1"}, jump[1:]...)...); err != nil {
			return fmt.Errorf("guard the host from bridge %s: %w", bridge, err)
		}
	}
	return nil
}

// unguardHost removes bridge's host guard (what of it there is).
func unguardHost(bridge string) error {
	var errs []error
	chain := hostGuardChain(bridge)
	for _, fam := range []int{4, 6} {
		for range 8 { // each -D takes one jump out
			if iptables(fam, "-D", "INPUT", "-i", bridge, "-j", chain) != nil {
				break
			}
		}
		if iptables(fam, "-n", "-L", chain) != nil {
			continue // no chain
		}
		if err := iptables(fam, "-F", chain); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := iptables(fam, "-X", chain); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeStaleGuards removes the host guards of family fam whose bridge no
// longer exists.
func removeStaleGuards(fam int) {
	out, err := exec.Command(xtablesProg(fam, "iptables-save"), "-t", "filter").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		chain, ok := strings.CutPrefix(line, ":"+hostGuardChain(""))
		if !ok {
			continue
		}
		bridge, _, _ := strings.Cut(chain, " ")
		if _, err := net.InterfaceByName(bridge); err != nil && bridge != "" {
			unguardHost(bridge)
		}
	}
}

// iptables runs iptables (ip6tables for family 6) with args in the
// calling thread's network namespace.
func iptables(family int, args ...string) error { return xtables(family, "iptables", "", args...) }

// restore runs iptables-restore (or ip6tables-restore) with rules and
// args in the calling thread's network namespace.
func restore(family int, rules string, args ...string) error {
	return xtables(family, "iptables-restore", rules, args...)
}

// xtables runs tool, iptables' or (family 6) ip6tables' of that name, with
// input on its stdin and -w 5 (wait for the xtables lock) and args.
func xtables(family int, tool, input string, args ...string) error {
	prog := xtablesProg(family, tool)
	path, err := exec.LookPath(prog)
	if err != nil {
		return fmt.Errorf("%s not found (install iptables): %w", prog, err)
	}
	var out bytes.Buffer
	cmd := exec.Command(path, append([]string{"-w", "5"}, args...)...)
	cmd.Stdin = strings.NewReader(input)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", prog, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// xtablesProg is iptables' tool of that name, or ip6tables' for family 6.
func xtablesProg(family int, tool string) string {
	if family == 6 {
		return "ip6" + strings.TrimPrefix(tool, "ip")
	}
	return tool
}
