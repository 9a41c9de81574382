package initproc

import (
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/net/bpf"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The spec's seccomp profile (linux.seccomp: what nerdctl --seccomp and
// Kubernetes' RuntimeDefault pass, or DefaultSeccomp) is assembled into a
// classic BPF filter here and loaded on every thread (TSYNC) as the last
// step of dropping privileges (the client already chose the rules for the
// architecture and capabilities, as containerd does from Docker's profile
// format). The architecture's syscall table is generated from
// github.com/elastic/go-seccomp-bpf (gen_syscalls.go); its assembler is
// not used: after a rule's argument
// checks fail it goes on to the next rule with the argument, not the
// syscall number, in the accumulator, so every rule after the first one
// with arguments was compared against the wrong value (a clone with
// CLONE_NEWNET got through a profile that denied it).
//
// The filter, in order:
//
//	arch != native        -> KILL_PROCESS (another ABI's numbers are not checked)
//	nr has the x32 bit    -> ENOSYS (x86-64: its x32 calls have numbers of
//	                         their own, which no rule names)
//	per rule, in the profile's order, per name:
//	  without arguments:  nr == N -> the rule's action
//	  with arguments:     nr == N && every comparison holds -> action,
//	                      else the syscall number is loaded again
//	the default action
//
// Each comparison is exact over the 64-bit argument (two 32-bit halves);
// SCMP_CMP_MASKED_EQ is (arg & value) == valueTwo for any values. A
// syscall this architecture's table does not know is skipped. SCMP_ACT_TRACE
// and SCMP_ACT_NOTIFY (no tracer, no listener here) are refused.

// seccompFilter is a profile assembled for this architecture.
type seccompFilter []bpf.Instruction

// Offsets in struct seccomp_data.
const (
	seccompNr   = 0
	seccompArch = 4
	seccompArgs = 16
)

// seccompPolicy assembles profile s.
func seccompPolicy(s *specs.LinuxSeccomp) (seccompFilter, error) {
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	if len(syscallTable) == 0 {
		return nil, fmt.Errorf("linux.seccomp: no system call table for %s", runtime.GOARCH)
	}
	f := seccompFilter{
		bpf.LoadAbsolute{Off: seccompArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArch, SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_KILL_PROCESS},
		bpf.LoadAbsolute{Off: seccompNr, Size: 4},
	}
	if abiBit != 0 {
		f = append(f,
			bpf.JumpIf{Cond: bpf.JumpLessThan, Val: abiBit, SkipTrue: 1},
			bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
	}
	for i, r := range s.Syscalls {
		action, err := seccompAction(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		conds, err := seccompConditions(r.Args)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		var nrs []uint32
		for _, name := range r.Names {
			if nr, ok := syscallNumber(name); ok && !slices.Contains(nrs, nr) {
				nrs = append(nrs, nr)
			}
		}
		if len(conds) == 0 {
			f = appendSyscalls(f, nrs, action)
			continue
		}
		for _, nr := range nrs {
			f = appendConditional(f, nr, conds, action)
		}
	}
	f = append(f, bpf.RetConstant{Val: def})
	if len(f) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("linux.seccomp: %d instructions, more than the kernel takes (%d)", len(f), unix.BPF_MAXINSNS)
	}
	return f, nil
}

// appendSyscalls appends "nr is one of nrs -> action" as a binary search
// over the sorted numbers: a handful of comparisons whatever the count,
// where a list costs one per name on every system call (containerd's
// default profile names about 350). Chunks of 64 keep jumps within a byte.
func appendSyscalls(f seccompFilter, nrs []uint32, action uint32) seccompFilter {
	for chunk := range slices.Chunk(slices.Sorted(slices.Values(nrs)), 64) {
		var tree []searchNode
		searchTree(chunk, &tree)
		// After the tree: the return (match), then what follows (miss).
		match, miss := len(tree), len(tree)+1
		for i, n := range tree {
			skip := func(to int) uint8 {
				switch to {
				case toMatch:
					to = match
				case toMiss:
					to = miss
				case toNext:
					to = i + 1
				}
				return uint8(to - i - 1)
			}
			f = append(f, bpf.JumpIf{Cond: n.cond, Val: n.val, SkipTrue: skip(n.yes), SkipFalse: skip(n.no)})
		}
		f = append(f, bpf.RetConstant{Val: action})
	}
	return f
}

// searchNode is a comparison of the syscall number in a search tree; yes
// and no are the index of the instruction to go to, or one of toMatch,
// toMiss, toNext.
type searchNode struct {
	cond    bpf.JumpTest
	val     uint32
	yes, no int
}

const (
	toMatch = -1 - iota
	toMiss
	toNext
)

// searchTree appends the nodes that find nr among nrs (sorted): a few
// equality tests at the leaves, "nr >= middle" above them.
func searchTree(nrs []uint32, tree *[]searchNode) {
	if len(nrs) <= 3 {
		for i, nr := range nrs {
			no := toNext
			if i == len(nrs)-1 {
				no = toMiss
			}
			*tree = append(*tree, searchNode{bpf.JumpEqual, nr, toMatch, no})
		}
		return
	}
	mid := len(nrs) / 2
	at := len(*tree)
	*tree = append(*tree, searchNode{bpf.JumpGreaterOrEqual, nrs[mid], 0, toNext})
	searchTree(nrs[:mid], tree)
	(*tree)[at].yes = len(*tree)
	searchTree(nrs[mid:], tree)
}

// appendConditional appends "nr and every one of conds -> action", then
// loads the syscall number again for what follows.
func appendConditional(f seccompFilter, nr uint32, conds []seccompCondition, action uint32) seccompFilter {
	var body seccompFilter
	var fails []int // indexes in body of the jumps taken on failure
	fail := func(j bpf.JumpIf) bpf.JumpIf {
		fails = append(fails, len(body))
		return j // SkipFalse is set below
	}
	for _, c := range conds {
		hi, lo := uint32(c.value>>32), uint32(c.value)
		ldHi := bpf.LoadAbsolute{Off: seccompArgs + 8*c.index + 4, Size: 4}
		ldLo := bpf.LoadAbsolute{Off: seccompArgs + 8*c.index, Size: 4}
		switch c.op {
		case specs.OpEqualTo:
			body = append(body, ldHi)
			body = append(body, fail(bpf.JumpIf{Cond: bpf.JumpEqual, Val: hi}))
			body = append(body, ldLo)
			body = append(body, fail(bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo}))
		case specs.OpNotEqual:
			// hi != value's hi, or else lo != value's lo.
			body = append(body, ldHi, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: hi, SkipTrue: 2}, ldLo)
			body = append(body, fail(bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: lo}))
		case specs.OpMaskedEqual:
			mhi, mlo := uint32(c.mask>>32), uint32(c.mask)
			body = append(body, ldHi, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mhi})
			body = append(body, fail(bpf.JumpIf{Cond: bpf.JumpEqual, Val: hi}))
			body = append(body, ldLo, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mlo})
			body = append(body, fail(bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo}))
		default:
			// Orderings: decided by hi unless hi is equal, then by lo.
			strict, loCond := bpf.JumpGreaterThan, bpf.JumpGreaterThan
			switch c.op {
			case specs.OpGreaterEqual:
				loCond = bpf.JumpGreaterOrEqual
			case specs.OpLessThan:
				strict, loCond = bpf.JumpLessThan, bpf.JumpLessThan
			case specs.OpLessEqual:
				strict, loCond = bpf.JumpLessThan, bpf.JumpLessOrEqual
			}
			body = append(body, ldHi, bpf.JumpIf{Cond: strict, Val: hi, SkipTrue: 3})
			body = append(body, fail(bpf.JumpIf{Cond: bpf.JumpEqual, Val: hi}))
			body = append(body, ldLo)
			body = append(body, fail(bpf.JumpIf{Cond: loCond, Val: lo}))
		}
	}
	body = append(body, bpf.RetConstant{Val: action})
	// Failures go to the load of the syscall number after the return.
	for _, i := range fails {
		j := body[i].(bpf.JumpIf)
		j.SkipFalse = uint8(len(body) - i - 1)
		body[i] = j
	}
	f = append(f, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: uint8(len(body))})
	f = append(f, body...)
	return append(f, bpf.LoadAbsolute{Off: seccompNr, Size: 4})
}

// seccompAction is the filter's return value for an OCI action.
func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	switch a {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActErrno:
		e := uint(unix.EPERM)
		if errnoRet != nil {
			e = *errnoRet
		}
		if e > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errno %d is out of range", e)
		}
		return unix.SECCOMP_RET_ERRNO | uint32(e), nil
	}
	return 0, fmt.Errorf("action %q is not supported", a)
}

// seccompCondition is one argument comparison: arg OP value, or for
// SCMP_CMP_MASKED_EQ (arg & mask) == value.
type seccompCondition struct {
	index       uint32
	op          specs.LinuxSeccompOperator
	value, mask uint64
}

// seccompConditions checks a rule's argument comparisons (all must hold).
func seccompConditions(args []specs.LinuxSeccompArg) ([]seccompCondition, error) {
	var out []seccompCondition
	for _, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("argument %d: a syscall has six", a.Index)
		}
		c := seccompCondition{index: uint32(a.Index), op: a.Op, value: a.Value}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual:
		case specs.OpMaskedEqual:
			c.mask, c.value = a.Value, a.ValueTwo
		default:
			return nil, fmt.Errorf("comparison %q is not supported", a.Op)
		}
		out = append(out, c)
	}
	return out, nil
}

// loadSeccomp loads f on every thread.
func loadSeccomp(f seccompFilter) error {
	raw, err := bpf.Assemble(f)
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	switch {
	case errno != 0:
		return fmt.Errorf("load seccomp filter: %w", errno)
	case r != 0:
		return fmt.Errorf("load seccomp filter: thread %d could not take it", r)
	}
	return nil
}

// alwaysSeccomp is the filter every container process self (its pid) gets
// besides its profile, whatever that says (containerd's default, which
// Kubernetes' RuntimeDefault is, allows ptrace and signals to others, and
// there is no PID namespace to bound them):
//
//   - it makes no process (its instances are goroutines; what runs in its
//     container as another process is started by its creator): fork,
//     vfork and a clone that is not a thread's fail with EPERM, clone3
//     with ENOSYS (its flags are out of a filter's reach; callers fall
//     back to clone). A process taken over by its guest could otherwise
//     leave children that outlive it, its stop and its clean-up;
//   - it acts on no other process, which could then do that for it (a
//     traced process of its uid made to fork) or worse: ptrace,
//     process_vm_readv/writev, pidfd_getfd, process_madvise, kcmp, tkill
//     and pidfd_send_signal fail with EPERM, and so do kill, tgkill,
//     rt_sigqueueinfo and rt_tgsigqueueinfo to anything but itself.
//
// It is loaded before the profile's, so that a profile cannot make its
// load a no-op (a rule answering seccomp with 0); allowing everything
// else, it cannot stop the profile's from loading either.
func alwaysSeccomp(self int) *specs.LinuxSeccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	deny := func(names []string, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActErrno, ErrnoRet: &eperm, Args: args}
	}
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			deny([]string{"fork", "vfork"}),
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			deny([]string{"clone"}, specs.LinuxSeccompArg{Index: 0, Value: unix.CLONE_THREAD, ValueTwo: 0, Op: specs.OpMaskedEqual}),
			deny([]string{"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp",
				"tkill", "pidfd_send_signal"}),
			deny([]string{"kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"},
				specs.LinuxSeccompArg{Index: 0, Value: uint64(self), Op: specs.OpNotEqual}),
		},
	}
}

// DefaultSeccomp is the seccomp profile of the container process self
// (its pid) when its spec has none (`wasmrun os`, `ctr run` without
// --seccomp), on top of alwaysSeccomp (no new process, no ptrace, no
// signal but to itself, whatever the profile): everything is allowed but
// what the process never needs once set up and what would widen its
// reach or the kernel's attack surface, which fails with EPERM:
//
//   - making or entering namespaces, mounting, changing root (unshare,
//     setns, clone with a CLONE_NEW* flag, mount and the new mount API,
//     pivot_root, chroot);
//   - acting on other processes beyond what alwaysSeccomp denies, which
//     it may otherwise do as their user (a container's root is the host's
//     root's uid): their limits (prlimit64 of another pid), scheduling
//     and I/O priorities, memory placement;
//   - kernel interfaces a guest's runtime never uses and that carry most
//     kernel escapes: bpf, perf_event_open, userfaultfd, io_uring, keyrings,
//     file handles (open_by_handle_at), fanotify;
//   - the machine's own state: modules, kexec, reboot, swap, clocks, acct,
//     quotas, syslog, I/O ports and ldt, personality, mknod;
//   - TCP Fast Open on the client side (TCP_FASTOPEN_CONNECT,
//     TCP_FASTOPEN_NO_COOKIE, MSG_FASTOPEN on a send), which puts data in
//     a SYN: a host socket is held to its peer by dropping every answer
//     from anywhere else (procnet's pinPeer), and data in a SYN needs none.
//
// What a guest does is system calls of wasmrun's own WASI host, a fixed
// set, so this list breaks no app.
func DefaultSeccomp(self int) *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	deny := func(names []string, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActErrno, ErrnoRet: &eperm, Args: args}
	}
	notSelf := func(i uint) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: uint64(self), Op: specs.OpNotEqual}
	}
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			deny([]string{
				"unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
				"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
				"setpriority", "ioprio_set",
				"sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr",
				"migrate_pages", "move_pages",
				"bpf", "perf_event_open", "userfaultfd",
				"io_uring_setup", "io_uring_enter", "io_uring_register",
				"keyctl", "add_key", "request_key",
				"name_to_handle_at", "open_by_handle_at", "fanotify_init", "lookup_dcookie",
				"init_module", "finit_module", "delete_module", "create_module", "kexec_load", "kexec_file_load",
				"reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
				"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
				"iopl", "ioperm", "modify_ldt", "personality", "mknod", "mknodat",
				"uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "vhangup", "vm86", "vm86old",
			}),
			// Its own limits: pid 0 or its own.
			deny([]string{"prlimit64"}, specs.LinuxSeccompArg{Index: 0, Value: 0, Op: specs.OpNotEqual}, notSelf(0)),
		},
	}
	for _, opt := range []uint64{unix.TCP_FASTOPEN_CONNECT, unix.TCP_FASTOPEN_NO_COOKIE} {
		s.Syscalls = append(s.Syscalls, deny([]string{"setsockopt"},
			specs.LinuxSeccompArg{Index: 1, Value: unix.IPPROTO_TCP, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 2, Value: opt, Op: specs.OpEqualTo}))
	}
	fastOpen := func(i uint) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: unix.MSG_FASTOPEN, ValueTwo: unix.MSG_FASTOPEN, Op: specs.OpMaskedEqual}
	}
	s.Syscalls = append(s.Syscalls, deny([]string{"sendto", "sendmmsg"}, fastOpen(3)), deny([]string{"sendmsg"}, fastOpen(2)))
	for _, flag := range []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER,
		unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME} {
		s.Syscalls = append(s.Syscalls, deny([]string{"clone"}, specs.LinuxSeccompArg{Index: 0, Value: flag, ValueTwo: flag, Op: specs.OpMaskedEqual}))
	}
	return s
}
