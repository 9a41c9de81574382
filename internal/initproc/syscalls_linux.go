package initproc

//go:generate go run gen_syscalls.go

import (
	"cmp"
	"slices"
)

// syscallEntry is a system call's name and its number on this
// architecture (zsyscalls_linux_<GOARCH>.go).
type syscallEntry struct {
	name string
	nr   uint32
}

// syscallNumber is the number of the system call called name, if this
// architecture's table has it.
func syscallNumber(name string) (uint32, bool) {
	i, ok := slices.BinarySearchFunc(syscallTable[:], name, func(e syscallEntry, name string) int {
		return cmp.Compare(e.name, name)
	})
	if !ok {
		return 0, false
	}
	return syscallTable[i].nr, true
}
