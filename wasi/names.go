package wasi

// ModuleName is the import module every function here is exported under.
const ModuleName = "wasi_snapshot_preview1"

// ExtModuleName is the import module of wasmrun's own host functions,
// beyond WASI preview1 and the socket extension. A guest that imports
// nothing from it runs on any preview1 host; one that does runs on
// wasmrun only (another host refuses the import by name).
//
// Signals (sys.Signals has the whole story): preview1 has none, so a
// signal to the process running a guest ends it. A guest that wants to
// handle one subscribes and gets a descriptor it polls like any other:
//
//	wasmrun.signal_subscribe(sig: i32, result.fd: i32) -> errno
//	wasmrun.signal_unsubscribe(sig: i32) -> errno
//
// Each arrival of a subscribed signal is one byte on that descriptor, the
// signal's preview1 number (SIGHUP 1, SIGINT 2, SIGQUIT 3, SIGUSR1 10,
// SIGUSR2 12, SIGTERM 15: only these can be subscribed to). The runtimes
// use it for process.on('SIGTERM') (nodejs) and signal.signal (python).
const ExtModuleName = "wasmrun"
