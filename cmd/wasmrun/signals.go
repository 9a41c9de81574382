package main

import (
	"os"
	"os/signal"
)

// How `wasmrun os` ends by a signal, the same whoever sends it: the app
// gets the signal wasmrun got (the terminal's Ctrl-C reaches both, kill
// only wasmrun), dies of it, and its status, 128+N, is wasmrun's (SIGINT
// 130, SIGTERM 143), as `wasmrun run`, which dies of it itself, and a
// native program give it.

// caught returns the signals of sigs that this process was not started
// ignoring. A shell starts a background job with SIGINT ignored, nohup a
// command with SIGHUP ignored: for the app as for a native program, such
// a signal then does nothing, whoever sends it (the container process
// inherits the ignored disposition). Catching it would undo that (Go's
// signal.Notify installs a handler).
func caught(sigs ...os.Signal) []os.Signal {
	var out []os.Signal
	for _, s := range sigs {
		if !signal.Ignored(s) {
			out = append(out, s)
		}
	}
	return out
}
