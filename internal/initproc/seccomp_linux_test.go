package initproc

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestSeccompPolicy: a profile like containerd's assembles, unknown
// syscalls are skipped, and what cannot be done is refused.
func TestSeccompPolicy(t *testing.T) {
	enosys := uint(38)
	ok := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &enosys, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"read", "write", "no_such_syscall"}, Action: specs.ActAllow},
		{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E020000, Op: specs.OpMaskedEqual}}},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
		{Names: []string{"unlinkat"}, Action: specs.ActErrno, ErrnoRet: &enosys},
	}}
	if _, err := seccompPolicy(ok); err != nil {
		t.Fatalf("a profile like containerd's: %v", err)
	}
	big := uint(1 << 20)
	for _, tc := range []struct {
		name string
		p    *specs.LinuxSeccomp
		want string
	}{
		{"errno out of range", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &big}, "out of range"},
		{"argument 6", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"clone"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Value: 3, Op: specs.OpEqualTo}}},
		}}, "six"},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOTIFY"}, "not supported"},
	} {
		if _, err := seccompPolicy(tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// seccompRun runs filter f on a system call as the kernel would and
// returns its verdict. x/net/bpf's machine reads words big-endian, as in
// a packet: each 32-bit field of seccomp_data is written that way, which
// gives the kernel's native loads of whole fields.
func seccompRun(t testing.TB, f seccompFilter, archID, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[seccompNr:], nr)
	binary.BigEndian.PutUint32(data[seccompArch:], archID)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[seccompArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[seccompArgs+8*i+4:], uint32(a>>32))
	}
	vm, err := bpf.NewVM(f)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(v)
}

// seccompWant is what profile s decides for a system call, from the OCI
// semantics: the first rule naming it whose comparisons all hold.
func seccompWant(t testing.TB, s *specs.LinuxSeccomp, names map[string]int, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	for _, r := range s.Syscalls {
		named := slices.ContainsFunc(r.Names, func(n string) bool { k, ok := names[n]; return ok && uint32(k) == nr })
		if !named {
			continue
		}
		holds := true
		for _, a := range r.Args {
			v := args[a.Index]
			switch a.Op {
			case specs.OpEqualTo:
				holds = holds && v == a.Value
			case specs.OpNotEqual:
				holds = holds && v != a.Value
			case specs.OpLessThan:
				holds = holds && v < a.Value
			case specs.OpLessEqual:
				holds = holds && v <= a.Value
			case specs.OpGreaterThan:
				holds = holds && v > a.Value
			case specs.OpGreaterEqual:
				holds = holds && v >= a.Value
			case specs.OpMaskedEqual:
				holds = holds && v&a.Value == a.ValueTwo
			}
		}
		if holds {
			act, err := seccompAction(r.Action, r.ErrnoRet)
			if err != nil {
				t.Fatal(err)
			}
			return act
		}
	}
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestSeccompFilterSemantics: for random profiles (rules with and without
// argument comparisons of every kind, over a handful of syscalls, so that
// several rules name the same one, and long lists of names, searched as
// a tree) and random calls, the assembled filter
// decides what the profile says; another architecture's call is killed,
// and an x32 one gets ENOSYS. With the assembler of go-seccomp-bpf, every
// rule after the first one with arguments was compared against the
// argument instead of the syscall number.
func TestSeccompFilterSemantics(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	pool := []string{"clone", "personality", "socket", "read", "write", "ioctl"}
	all := slices.Sorted(maps.Keys(info.SyscallNames))
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActLog}
	rng := rand.New(rand.NewPCG(1, 2))
	// Values near each other and across the 32-bit halves, so that
	// comparisons hit their edges.
	values := []uint64{0, 1, 2, 7, 8, 0xffffffff, 0x100000000, 0x100000001, 0x7E020000, 1 << 63, ^uint64(0)}
	value := func() uint64 {
		if rng.IntN(4) == 0 {
			return rng.Uint64()
		}
		return values[rng.IntN(len(values))]
	}
	for range 300 {
		s := &specs.LinuxSeccomp{DefaultAction: actions[rng.IntN(len(actions))]}
		for range rng.IntN(8) {
			errno := uint(rng.IntN(100))
			r := specs.LinuxSyscall{Action: actions[rng.IntN(len(actions))], ErrnoRet: &errno}
			for range 1 + rng.IntN(3) {
				r.Names = append(r.Names, pool[rng.IntN(len(pool))])
			}
			if rng.IntN(3) == 0 { // a long list, as containerd's default profile has
				for range rng.IntN(400) {
					r.Names = append(r.Names, all[rng.IntN(len(all))])
				}
			} else {
				for range rng.IntN(3) {
					r.Args = append(r.Args, specs.LinuxSeccompArg{Index: uint(rng.IntN(6)), Op: ops[rng.IntN(len(ops))], Value: value(), ValueTwo: value()})
				}
			}
			s.Syscalls = append(s.Syscalls, r)
		}
		f, err := seccompPolicy(s)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		for range 200 {
			nr := uint32(info.SyscallNames[pool[rng.IntN(len(pool))]])
			if rng.IntN(2) == 0 {
				nr = uint32(rng.IntN(500)) // named or not, either side of each number
			}
			var args [6]uint64
			for i := range args {
				args[i] = value()
			}
			if got, want := seccompRun(t, f, uint32(info.ID), nr, args), seccompWant(t, s, info.SyscallNames, nr, args); got != want {
				t.Fatalf("profile %+v\nsyscall %d args %#x: filter %#x, profile %#x", s, nr, args, got, want)
			}
		}
		if got := seccompRun(t, f, uint32(info.ID)^1, 0, [6]uint64{}); got != unix.SECCOMP_RET_KILL_PROCESS {
			t.Fatalf("another architecture's call: %#x, want KILL_PROCESS", got)
		}
		if runtime.GOARCH == "amd64" {
			// x32's read (0), and its calls numbered like x86-64's
			// clone, personality, socket or ioctl.
			for _, nr := range []uint32{0, 56, 135, 41, 16} {
				if got := seccompRun(t, f, uint32(info.ID), uint32(arch.X32.SeccompMask)|nr, [6]uint64{}); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
					t.Fatalf("x32 call %d: %#x, want ENOSYS", nr, got)
				}
			}
		}
	}
}

// TestSyscallTable: the generated table (gen_syscalls.go) is this
// architecture's in github.com/elastic/go-seccomp-bpf, and on x86-64 the
// filter knows x32's bit (the package's x86_64 entry has no mask, so a
// filter built on it let every x32 call reach the profile's default).
func TestSyscallTable(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Skipf("no table for %s: %v", runtime.GOARCH, err)
	}
	if auditArch != uint32(info.ID) {
		t.Errorf("auditArch %#x, want %#x", auditArch, uint32(info.ID))
	}
	if len(syscallTable) != len(info.SyscallNames) {
		t.Errorf("%d system calls, want %d: run go generate", len(syscallTable), len(info.SyscallNames))
	}
	for name, nr := range info.SyscallNames {
		if got, ok := syscallNumber(name); !ok || got != uint32(nr) {
			t.Errorf("%s: %d (%v), want %d", name, got, ok, nr)
		}
	}
	if _, ok := syscallNumber("no_such_syscall"); ok {
		t.Error("no_such_syscall has a number")
	}
	if want := map[bool]int{true: arch.X32.SeccompMask}[runtime.GOARCH == "amd64"]; abiBit != want {
		t.Errorf("abiBit %#x, want %#x", abiBit, want)
	}
}

// TestDefaultSeccomp: a process under DefaultSeccomp's filter (a child of
// the test, which loads it on every thread) gets EPERM for what the
// profile denies (a user or network namespace by unshare or clone, a
// mount, ptrace, bpf, io_uring, a keyring, signals and limits of another
// process) and ENOSYS for clone3, while the calls a guest's host makes
// (signals to itself, its own limits, a socket, a pipe, a file) work.
func TestDefaultSeccomp(t *testing.T) {
	runSeccompChild(t, "TestDefaultSeccomp", defaultSeccompChild, []string{
		"unshare(CLONE_NEWUSER) operation not permitted",
		"unshare(CLONE_NEWNET) operation not permitted",
		"clone(CLONE_NEWNET) operation not permitted",
		"clone3 function not implemented",
		"mount operation not permitted",
		"ptrace operation not permitted",
		"bpf operation not permitted",
		"io_uring_setup operation not permitted",
		"add_key operation not permitted",
		"kill(parent) operation not permitted",
		"kill(0) operation not permitted",
		"kill(-1) operation not permitted",
		"tgkill(parent) operation not permitted",
		"prlimit64(parent) operation not permitted",
		"setpriority operation not permitted",
		"kill(self, 0) ok",
		"tgkill(self) ok",
		"prlimit64(0) ok",
		"setsockopt(TCP_FASTOPEN_CONNECT) operation not permitted",
		"setsockopt(TCP_FASTOPEN_NO_COOKIE) operation not permitted",
		"sendto(MSG_FASTOPEN) operation not permitted",
		"sendmsg(MSG_FASTOPEN) operation not permitted",
		"setsockopt(TCP_NODELAY) ok",
		"sendto ok",
		"socket ok",
		"pipe2 ok",
		"openat ok",
	})
}

// runSeccompChild runs test name again as a child of the test, where child
// loads its filters and prints what each call gave, and checks its lines
// against want. The filters are loaded on every thread without
// no_new_privs, which needs root.
func runSeccompChild(t *testing.T, name string, child func(), want []string) {
	const env = "WASMRUN_TEST_SECCOMP_CHILD"
	if os.Getenv(env) == name {
		child()
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("loading a filter without no_new_privs needs root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$")
	cmd.Env = append(os.Environ(), env+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Errorf("line %d: %q, want %q\n%s", i+1, at(got, i), w, out)
		}
	}
}

// loadFilters loads profile on every thread as drop does, on top of
// alwaysSeccomp, or exits the child.
func loadFilters(profile *specs.LinuxSeccomp) {
	for _, prof := range []*specs.LinuxSeccomp{alwaysSeccomp(os.Getpid()), profile} {
		if prof == nil {
			continue
		}
		p, err := seccompPolicy(prof)
		if err == nil {
			err = loadSeccomp(p)
		}
		if err != nil {
			fmt.Println("load:", err)
			os.Exit(1)
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<missing>"
}

// defaultSeccompChild loads the filter and prints what each call gave.
func defaultSeccompChild() {
	loadFilters(DefaultSeccomp(os.Getpid()))
	runtime.LockOSThread() // a clone that got through ends this thread only
	report := func(name string, err error) {
		if err == nil {
			fmt.Println(name, "ok")
		} else {
			fmt.Println(name, err)
		}
	}
	errno := func(_, _ uintptr, e unix.Errno) error {
		if e == 0 {
			return nil
		}
		return e
	}
	report("unshare(CLONE_NEWUSER)", unix.Unshare(unix.CLONE_NEWUSER))
	report("unshare(CLONE_NEWNET)", unix.Unshare(unix.CLONE_NEWNET))
	// Were it allowed, the child this makes exits at once.
	r, _, e := unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWNET|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e == 0 && r == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	report("clone(CLONE_NEWNET)", errno(r, 0, e))
	report("clone3", errno(unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)))
	// A tmpfs on a directory of its own, removed at once if it got there.
	mnt, _ := os.MkdirTemp("", "wasmrun-seccomp-")
	err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "")
	if err == nil {
		unix.Unmount(mnt, unix.MNT_DETACH)
	}
	os.Remove(mnt)
	report("mount", err)
	report("ptrace", errno(unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0, 0, 0, 0)))
	report("bpf", errno(unix.RawSyscall(unix.SYS_BPF, 0, 0, 0)))
	report("io_uring_setup", errno(unix.RawSyscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)))
	_, err = unix.AddKey("user", "wasmrun-test", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
	report("add_key", err)
	// The parent is the test: were these allowed, signal 0 and a get of
	// its limits change nothing.
	parent := os.Getppid()
	report("kill(parent)", unix.Kill(parent, 0))
	report("kill(0)", errno(unix.RawSyscall(unix.SYS_KILL, 0, 0, 0)))
	minus1 := -1
	report("kill(-1)", errno(unix.RawSyscall(unix.SYS_KILL, uintptr(minus1), 0, 0)))
	report("tgkill(parent)", unix.Tgkill(parent, parent, 0))
	var lim unix.Rlimit
	report("prlimit64(parent)", unix.Prlimit(parent, unix.RLIMIT_NOFILE, nil, &lim))
	// Its own priority, as it is: allowed, nothing would change.
	prio, _ := unix.Getpriority(unix.PRIO_PROCESS, 0)
	report("setpriority", unix.Setpriority(unix.PRIO_PROCESS, 0, 20-prio))
	report("kill(self, 0)", unix.Kill(os.Getpid(), 0))
	report("tgkill(self)", unix.Tgkill(os.Getpid(), unix.Gettid(), 0))
	report("prlimit64(0)", unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &lim))
	// TCP Fast Open: on an unconnected socket and to a port of a socket
	// pair's, so nothing leaves were they allowed.
	fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	report("setsockopt(TCP_FASTOPEN_CONNECT)", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1))
	report("setsockopt(TCP_FASTOPEN_NO_COOKIE)", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_NO_COOKIE, 1))
	sp, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	report("sendto(MSG_FASTOPEN)", unix.Sendto(sp[0], []byte("x"), unix.MSG_FASTOPEN, nil))
	report("sendmsg(MSG_FASTOPEN)", unix.Sendmsg(sp[0], []byte("x"), nil, nil, unix.MSG_FASTOPEN))
	report("setsockopt(TCP_NODELAY)", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
	report("sendto", unix.Sendto(sp[0], []byte("x"), 0, nil))
	unix.Close(sp[0])
	unix.Close(sp[1])
	unix.Close(fd)
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	unix.Close(fd)
	report("socket", err)
	var pfd [2]int
	err = unix.Pipe2(pfd[:], unix.O_CLOEXEC)
	unix.Close(pfd[0])
	unix.Close(pfd[1])
	report("pipe2", err)
	fd, err = unix.Open(os.Args[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
	unix.Close(fd)
	report("openat", err)
	os.Exit(0)
}

// TestNoNewProcesses: under the filter every container process gets
// besides its profile (alwaysSeccomp), a process can start threads (the Go
// runtime's clones) but make no process (a clone that is not a thread's
// fails with EPERM, clone3 with ENOSYS), and can neither trace nor signal
// another process, which it could make fork for it; itself it signals.
func TestNoNewProcesses(t *testing.T) {
	runSeccompChild(t, "TestNoNewProcesses", noNewProcessesChild, []string{
		"clone(SIGCHLD) operation not permitted",
		"clone3 function not implemented",
		"threads ok",
		"ptrace(parent) operation not permitted",
		"kill(parent) operation not permitted",
		"kill(self) ok",
	})
}

// noNewProcessesChild loads the filter and prints what each call gave.
func noNewProcessesChild() {
	loadFilters(nil)
	r, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	switch {
	case errno != 0:
		fmt.Println("clone(SIGCHLD)", errno)
	case r == 0:
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0) // the child it made
	default:
		fmt.Println("clone(SIGCHLD) made process", r)
		unix.Wait4(int(r), nil, 0, nil)
	}
	var args [11]uint64 // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, ...
	args[4] = uint64(unix.SIGCHLD)
	r, _, errno = unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	switch {
	case errno != 0:
		fmt.Println("clone3", errno)
	case r == 0:
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	default:
		fmt.Println("clone3 made process", r)
		unix.Wait4(int(r), nil, 0, nil)
	}
	before, _ := os.ReadDir("/proc/self/task")
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() { // each holds a thread of its own
			runtime.LockOSThread()
			wg.Done()
			<-release
		}()
	}
	wg.Wait()
	after, _ := os.ReadDir("/proc/self/task")
	close(release)
	// Eight locked goroutines and this one need nine threads; idle ones
	// of the runtime's may serve some, but not all of them.
	if len(after) > len(before) && len(after) >= 9 {
		fmt.Println("threads ok")
	} else {
		fmt.Printf("threads: %d, then %d\n", len(before), len(after))
	}
	report := func(what string, err error) {
		if err == nil {
			fmt.Println(what, "ok")
		} else {
			fmt.Println(what, err)
		}
	}
	parent := os.Getppid()
	err := unix.PtraceAttach(parent)
	report("ptrace(parent)", err)
	if err == nil {
		unix.PtraceDetach(parent)
	}
	report("kill(parent)", unix.Kill(parent, 0))
	report("kill(self)", unix.Kill(os.Getpid(), 0))
}
