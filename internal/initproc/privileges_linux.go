package initproc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The container process holds no privilege it does not need. It sets up
// as root (namespaces, mounts, the compiled-module cache), then, before it
// opens anything of the guest's, becomes the spec's process: its rlimits,
// its user (uid, gid, additional gids), its capabilities (none unless the
// spec lists some) and no_new_privs when the spec asks. A bug in a WASI
// path check is then the spec user's bug, not root's.
//
// Every thread must change: Go's Setuid and friends do that themselves,
// and the rest (capabilities, the bounding set, no_new_privs, the parent
// death signal the credential change cleared) goes through
// AllThreadsSyscall, which needs a binary built without cgo (the Makefile
// builds with CGO_ENABLED=0).

// Privileges are what the container process becomes after setup.
type Privileges struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	// Caps nil is no capability at all.
	Caps            *specs.LinuxCapabilities `json:"caps,omitempty"`
	NoNewPrivileges bool                     `json:"no_new_privileges,omitempty"`
	Rlimits         []specs.POSIXRlimit      `json:"rlimits,omitempty"`
	// Seccomp is the spec's profile (nil: none, DefaultSeccomp applies).
	Seccomp *specs.LinuxSeccomp `json:"seccomp,omitempty"`
	// Umask is process.user.umask: the mode bits the guest's new files
	// and directories do not get (nil: the creator's, as the spec says).
	Umask *uint32 `json:"umask,omitempty"`
}

// SpecPrivileges reads them from the spec, checking names, numbers and
// the seccomp profile, so the creator refuses a bad spec before it makes
// anything.
func SpecPrivileges(s *specs.Spec) (*Privileges, error) {
	p := s.Process
	out := &Privileges{
		UID: p.User.UID, GID: p.User.GID, Groups: p.User.AdditionalGids,
		Caps: p.Capabilities, NoNewPrivileges: p.NoNewPrivileges, Rlimits: p.Rlimits,
		Umask: p.User.Umask,
	}
	if u := out.Umask; u != nil && *u > 0o777 {
		return nil, fmt.Errorf("process.user.umask %#o: not a umask (at most 0777)", *u)
	}
	if s.Linux != nil && s.Linux.Seccomp != nil {
		out.Seccomp = s.Linux.Seccomp
		if _, err := seccompPolicy(out.Seccomp); err != nil {
			return nil, err
		}
	}
	if p.Capabilities != nil {
		for _, set := range [][]string{p.Capabilities.Bounding, p.Capabilities.Effective, p.Capabilities.Permitted, p.Capabilities.Inheritable, p.Capabilities.Ambient} {
			if _, err := capMask(set); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range p.Rlimits {
		if _, ok := rlimits[r.Type]; !ok {
			return nil, fmt.Errorf("process.rlimits: unknown type %q", r.Type)
		}
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("process.rlimits: %s soft limit %d above hard limit %d", r.Type, r.Soft, r.Hard)
		}
	}
	return out, nil
}

var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// capNames are the capabilities by their OCI names.
var capNames = map[string]uint{
	"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH,
	"CAP_FOWNER": unix.CAP_FOWNER, "CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
	"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP, "CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE,
	"CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST,
	"CAP_NET_ADMIN": unix.CAP_NET_ADMIN, "CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK,
	"CAP_IPC_OWNER": unix.CAP_IPC_OWNER, "CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE, "CAP_SYS_PACCT": unix.CAP_SYS_PACCT,
	"CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN, "CAP_SYS_BOOT": unix.CAP_SYS_BOOT, "CAP_SYS_NICE": unix.CAP_SYS_NICE,
	"CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "CAP_SYS_TIME": unix.CAP_SYS_TIME, "CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG,
	"CAP_MKNOD": unix.CAP_MKNOD, "CAP_LEASE": unix.CAP_LEASE, "CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE,
	"CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL, "CAP_SETFCAP": unix.CAP_SETFCAP, "CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE,
	"CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN, "CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ, "CAP_PERFMON": unix.CAP_PERFMON,
	"CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// capMask is the bit mask of the named capabilities.
func capMask(names []string) (uint64, error) {
	var m uint64
	for _, n := range names {
		c, ok := capNames[strings.ToUpper(n)]
		if !ok {
			return 0, fmt.Errorf("process.capabilities: unknown capability %q", n)
		}
		m |= 1 << c
	}
	return m, nil
}

// setupCaps are the capabilities the container process uses before it
// drops its privileges: mounts, lo up (rootless), listening on the ports
// of Config.Listen (below 1024 too), reading the module and writing the
// compiled-module cache whoever owns them, raising rlimits, and changing
// its ids and capabilities.
var setupCaps = []uint{
	unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN, unix.CAP_NET_BIND_SERVICE, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH,
	unix.CAP_FOWNER, unix.CAP_SYS_RESOURCE, unix.CAP_SETUID, unix.CAP_SETGID, unix.CAP_SETPCAP,
}

// Birth is what the creator's forking thread makes of itself so that the
// process starts with the spec's bounding set and, besides the spec's
// capabilities, only those setup needs: root's exec gives a process the
// permitted set P(inheritable) | P(bounding), so the thread adds the setup
// capabilities to its inheritable set and drops from its bounding set all
// the spec does not list. drop then has no bounding capability left to
// take out (each would cost a round of signals to all the process's
// threads) and removes the setup ones with its one capset.
type Birth struct{ Bounding, Inheritable uint64 }

// Birth is the process's birth (as root; nil otherwise).
func (p *Privileges) Birth() *Birth {
	if os.Geteuid() != 0 {
		return nil
	}
	b := &Birth{}
	if p.Caps != nil {
		b.Bounding, _ = capMask(p.Caps.Bounding)
	}
	for _, c := range setupCaps {
		b.Inheritable |= 1 << c
	}
	return b
}

// Apply changes the calling thread, for good: the creator calls it on a
// locked thread that forks the process and is never used again.
func (b *Birth) Apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	// Only what the thread has (the system may withhold some from root).
	data[0].Inheritable |= uint32(b.Inheritable) & data[0].Permitted
	data[1].Inheritable |= uint32(b.Inheritable>>32) & data[1].Permitted
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set inheritable capabilities: %w", err)
	}
	for c := uint(0); c <= lastCap(); c++ {
		if b.Bounding&(1<<c) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
			}
		}
	}
	return nil
}

// lastCap is the highest capability this kernel knows (probed once).
var lastCap = sync.OnceValue(func() uint {
	last := uint(unix.CAP_CHECKPOINT_RESTORE)
	for c := last + 1; c < 64; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil {
			break
		}
		last = c
	}
	return last
})

// allThreads runs a raw system call on every thread of the process.
func allThreads(trap, a1, a2, a3 uintptr) error {
	_, _, errno := syscall.AllThreadsSyscall(trap, a1, a2, a3)
	if errno == syscall.ENOTSUP {
		return errors.New("this binary was built with cgo and cannot change every thread's privileges; build it with CGO_ENABLED=0")
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// setgroupsDenied reports whether this process is in a user namespace that
// may not call setgroups (a rootless one): it then has no groups to drop.
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// drop makes the process p (noSetgroups: setgroupsDenied, read before
// the process left the host's /proc). It runs once setup is over and before the
// guest's files are opened. The seccomp filter comes last when
// no_new_privs is set; otherwise first, while the process still has the
// CAP_SYS_ADMIN a filter needs without no_new_privs (the profile then
// also governs the calls that drop the rest).
func (p *Privileges) drop(noSetgroups bool) error {
	// Without a profile of the spec's, DefaultSeccomp: what the process
	// calls is wasmrun's own WASI host, never the workload's choice, so
	// no workload needs what it denies.
	profile := p.Seccomp
	if profile == nil {
		profile = DefaultSeccomp(os.Getpid())
	}
	filter, err := seccompPolicy(profile)
	if err != nil {
		return err
	}
	always, err := seccompPolicy(alwaysSeccomp(os.Getpid()))
	if err != nil {
		return err
	}
	load := func() error {
		if err := loadSeccomp(always); err != nil {
			return err
		}
		return loadSeccomp(filter)
	}
	if !p.NoNewPrivileges {
		if err := load(); err != nil {
			return err
		}
	}
	if p.Umask != nil {
		// The process's, not a thread's: its threads share one.
		unix.Umask(int(*p.Umask))
	}
	for _, r := range p.Rlimits {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, rlimits[r.Type], &lim, nil); err != nil {
			return fmt.Errorf("set %s: %w", r.Type, err)
		}
	}
	var bounding, effective, permitted, inheritable uint64
	if p.Caps != nil {
		bounding, _ = capMask(p.Caps.Bounding)
		effective, _ = capMask(p.Caps.Effective)
		permitted, _ = capMask(p.Caps.Permitted)
		inheritable, _ = capMask(p.Caps.Inheritable)
	}
	for c := uint(0); c <= lastCap(); c++ {
		if present, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); present == 1 && bounding&(1<<c) == 0 {
			if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
				return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
			}
		}
	}
	if p.UID != 0 && permitted != 0 {
		// Keep the permitted set across the change of uid; capset below
		// trims it to what the spec lists.
		if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); err != nil {
			return fmt.Errorf("keep capabilities: %w", err)
		}
	}
	groups := make([]int, len(p.Groups))
	for i, g := range p.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil && (len(groups) > 0 || !noSetgroups) {
		return fmt.Errorf("set additional groups: %w", err)
	}
	if err := syscall.Setgid(int(p.GID)); err != nil {
		return fmt.Errorf("set gid %d: %w", p.GID, err)
	}
	if err := syscall.Setuid(int(p.UID)); err != nil {
		return fmt.Errorf("set uid %d: %w", p.UID, err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(effective), Permitted: uint32(permitted), Inheritable: uint32(inheritable)},
		{Effective: uint32(effective >> 32), Permitted: uint32(permitted >> 32), Inheritable: uint32(inheritable >> 32)},
	}
	if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	if p.NoNewPrivileges {
		if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	// The change of credentials cleared the parent death signal.
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0); err != nil {
		return fmt.Errorf("set the parent death signal: %w", err)
	}
	if p.NoNewPrivileges {
		return load()
	}
	return nil
}
