package sys

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// Streams on Windows: a pipe or the console on stdio. WSAPoll cannot wait
// for them, so their readiness is asked for (PeekNamedPipe, the console's
// input queue) by Poller.Wait, every streamTick while it waits, and by Read
// when the guest made the descriptor non-blocking (EAGAIN when nothing is
// there, as on Linux).

// hostKind is what kind of handle backs a File.
type hostKind uint8

const (
	kindOther   hostKind = iota // a file, a directory, NUL: always ready
	kindSocket                  // a Winsock socket (File.Fd)
	kindPipe                    // an anonymous or named pipe
	kindConsole                 // a console input or screen buffer
)

var (
	kernel32              = windows.NewLazySystemDLL("kernel32.dll")
	procPeekNamedPipe     = kernel32.NewProc("PeekNamedPipe")
	procPeekConsoleInputW = kernel32.NewProc("PeekConsoleInputW")
)

// handleKind tells pipes and consoles from the rest.
func handleKind(h windows.Handle) hostKind {
	t, err := windows.GetFileType(h)
	if err != nil {
		return kindOther
	}
	switch t {
	case windows.FILE_TYPE_PIPE:
		return kindPipe
	case windows.FILE_TYPE_CHAR:
		var mode uint32
		if windows.GetConsoleMode(h, &mode) == nil {
			return kindConsole
		}
	}
	return kindOther
}

// pipeAvailable returns the bytes waiting in pipe h; hangup when its
// writer is gone.
func pipeAvailable(h windows.Handle) (n uint32, hangup bool, err error) {
	r, _, e := procPeekNamedPipe.Call(uintptr(h), 0, 0, 0, uintptr(unsafe.Pointer(&n)), 0)
	if r != 0 {
		return n, false, nil
	}
	if e == windows.ERROR_BROKEN_PIPE {
		return 0, true, nil
	}
	return 0, false, e
}

// inputRecord is the console's INPUT_RECORD, with KEY_EVENT_RECORD's
// fields in place.
type inputRecord struct {
	eventType uint16
	_         uint16
	keyDown   int32
	repeat    uint16
	vkey      uint16
	scan      uint16
	char      uint16
	state     uint32
}

const keyEvent = 0x1

// consoleReady reports whether a read of console h would return now: a
// line is complete (Enter is in the queue) in line mode, a key was
// pressed otherwise.
func consoleReady(h windows.Handle) bool {
	var mode uint32
	if windows.GetConsoleMode(h, &mode) != nil {
		return true
	}
	var recs [64]inputRecord
	var n uint32
	if r, _, _ := procPeekConsoleInputW.Call(uintptr(h), uintptr(unsafe.Pointer(&recs[0])), uintptr(len(recs)), uintptr(unsafe.Pointer(&n))); r == 0 {
		return true // not an input buffer: let the read tell
	}
	for _, rec := range recs[:n] {
		if rec.eventType != keyEvent || rec.keyDown == 0 || rec.char == 0 {
			continue
		}
		if mode&windows.ENABLE_LINE_INPUT == 0 || rec.char == '\r' {
			return true
		}
	}
	return false
}

// streamRevents is what a wait for events on stream h of kind k finds
// now: writing is always ready, reading when there is something to read
// (or the writer hung up).
func streamRevents(k hostKind, h windows.Handle, events int16) int16 {
	var rev int16
	if events&PollOut != 0 {
		rev |= PollOut
	}
	if events&PollIn == 0 {
		return rev
	}
	switch k {
	case kindPipe:
		n, hangup, err := pipeAvailable(h)
		switch {
		case err != nil:
			// A pipe that cannot be peeked at (Wine's Unix pipes):
			// ready, and the read tells.
			rev |= PollIn
		case hangup:
			rev |= PollHup
		case n > 0:
			rev |= PollIn
		}
	case kindConsole:
		if consoleReady(h) {
			rev |= PollIn
		}
	default:
		rev |= PollIn
	}
	return rev
}
