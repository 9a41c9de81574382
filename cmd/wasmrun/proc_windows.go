package main

import (
	"os"

	"golang.org/x/sys/windows"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// processAlive reports whether process pid exists (and has not exited).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return err == windows.ERROR_ACCESS_DENIED
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code == 259 // STILL_ACTIVE
}

// terminate ends process pid: Windows cannot send another process a
// SIGTERM (a console's Ctrl-Break reaches only the processes of one's own
// console), so stop ends an app at once, as kill does.
func terminate(pid int) error {
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.TerminateProcess(h, 1)
}

// kill ends process pid.
func kill(pid int) { terminate(pid) }

// fileOwner: Windows files have no Unix owner.
func fileOwner(fi os.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }

// openConfig opens a config file (Windows: no FIFOs to block on here).
func openConfig(path string, noFollow bool) (*os.File, error) { return os.Open(path) }

// modeAllows: Windows has no Unix permission bits; its ACLs decide when
// the app opens a file.
func modeAllows(path string, u specs.User, want uint32) bool { return true }

// createOutput creates or truncates path for writing (--trace=FILE).
func createOutput(path string) (*os.File, error) { return os.Create(path) }
