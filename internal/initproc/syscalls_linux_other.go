//go:build linux && !amd64 && !arm64 && !386 && !arm

package initproc

// No table for this architecture (gen_syscalls.go): seccompPolicy refuses
// every profile.
const (
	auditArch = 0
	abiBit    = 0
)

var syscallTable = [0]syscallEntry{}
