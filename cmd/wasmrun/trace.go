package main

import (
	"fmt"
	"os"
)

// traceStderr is the value of a bare --trace: the trace goes to stderr.
const traceStderr = "-"

// openTrace opens where --trace[=FILE] writes: stderr for a bare --trace
// (or --trace=-), else FILE, created or truncated. "" is no trace: nil.
// The front end opens the file, as the user who runs wasmrun; for `os` it
// is passed to the container process as an open descriptor, so the path
// is the user's, not one inside the app's mounts. close closes FILE, not
// stderr.
func openTrace(spec string, stderr *os.File) (f *os.File, close func(), err error) {
	switch spec {
	case "":
		return nil, func() {}, nil
	case traceStderr:
		return stderr, func() {}, nil
	}
	f, err = createOutput(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("--trace=%s: %v", spec, unwrapPath(err))
	}
	return f, func() { f.Close() }, nil
}
