package initproc

import (
	"fmt"
	"slices"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The spec's seccomp profile (linux.seccomp: what nerdctl --seccomp and
// Kubernetes' RuntimeDefault pass) is assembled into a BPF filter with
// github.com/elastic/go-seccomp-bpf and loaded on every thread (TSYNC) as
// the last step of dropping privileges (the client already chose the rules
// for the architecture and capabilities, as containerd does from Docker's
// profile format). A syscall this architecture's table does not know is
// skipped. What the profile asks that cannot be expressed exactly is
// refused, never approximated: a default errno other than EPERM, and a
// masked comparison other than "all bits set" or "no bit set".

// seccompPolicy translates profile s.
func seccompPolicy(s *specs.LinuxSeccomp) (*seccomp.Policy, error) {
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.defaultAction: %w", err)
	}
	if def&0xffff0000 == uint32(seccomp.ActionErrno) && def != uint32(seccomp.ActionErrno)|1 {
		return nil, fmt.Errorf("linux.seccomp: a default errno other than EPERM is not supported")
	}
	if def&0xffff0000 == uint32(seccomp.ActionErrno) {
		def = uint32(seccomp.ActionErrno) // Assemble returns EPERM for it
	}
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	p := &seccomp.Policy{DefaultAction: seccomp.Action(def)}
	for i, r := range s.Syscalls {
		action, err := seccompAction(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		g := seccomp.SyscallGroup{Action: seccomp.Action(action)}
		conds, err := seccompConditions(r.Args)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d]: %w", i, err)
		}
		for _, name := range r.Names {
			if _, ok := info.SyscallNames[name]; !ok || slices.Contains(g.Names, name) {
				continue
			}
			if len(conds) == 0 {
				g.Names = append(g.Names, name)
			} else {
				g.NamesWithCondtions = append(g.NamesWithCondtions, seccomp.NameWithConditions{Name: name, Conditions: conds})
			}
		}
		if len(g.Names)+len(g.NamesWithCondtions) > 0 {
			p.Syscalls = append(p.Syscalls, g)
		}
	}
	if len(p.Syscalls) == 0 {
		// Assemble wants at least one group; this one changes nothing.
		p.Syscalls = []seccomp.SyscallGroup{{Names: []string{"getpid"}, Action: seccomp.Action(def)}}
	}
	if _, err := p.Assemble(); err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	return p, nil
}

// seccompAction is the filter's return value for an OCI action.
func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	switch a {
	case specs.ActAllow:
		return uint32(seccomp.ActionAllow), nil
	case specs.ActLog:
		return uint32(seccomp.ActionLog), nil
	case specs.ActKill, specs.ActKillThread:
		return uint32(seccomp.ActionKillThread), nil
	case specs.ActKillProcess:
		return uint32(seccomp.ActionKillProcess), nil
	case specs.ActTrap:
		return uint32(seccomp.ActionTrap), nil
	case specs.ActErrno:
		e := uint(1) // EPERM
		if errnoRet != nil {
			e = *errnoRet
		}
		return uint32(seccomp.ActionErrno) | uint32(e&0xffff), nil
	}
	return 0, fmt.Errorf("action %q is not supported", a)
}

// seccompConditions translates a rule's argument comparisons (all must
// hold).
func seccompConditions(args []specs.LinuxSeccompArg) (seccomp.ArgumentConditions, error) {
	var out seccomp.ArgumentConditions
	for _, a := range args {
		c := seccomp.Condition{Argument: uint32(a.Index), Value: a.Value}
		switch a.Op {
		case specs.OpEqualTo:
			c.Operation = seccomp.Equal
		case specs.OpNotEqual:
			c.Operation = seccomp.NotEqual
		case specs.OpLessThan:
			c.Operation = seccomp.LessThan
		case specs.OpLessEqual:
			c.Operation = seccomp.LessOrEqual
		case specs.OpGreaterThan:
			c.Operation = seccomp.GreaterThan
		case specs.OpGreaterEqual:
			c.Operation = seccomp.GreaterOrEqual
		case specs.OpMaskedEqual:
			switch a.ValueTwo {
			case 0:
				c.Operation = seccomp.BitsNotSet
			case a.Value:
				c.Operation = seccomp.BitsSet
			default:
				return nil, fmt.Errorf("masked comparison (arg %d & %#x) == %#x is not supported", a.Index, a.Value, a.ValueTwo)
			}
		default:
			return nil, fmt.Errorf("comparison %q is not supported", a.Op)
		}
		out = append(out, c)
	}
	return out, nil
}

// loadSeccomp loads p on every thread.
func loadSeccomp(p *seccomp.Policy) error {
	err := seccomp.LoadFilter(seccomp.Filter{Flag: seccomp.FilterFlagTSync, Policy: *p})
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	return nil
}
