
# Added by wasmrun (runtimes/python/stdlib-additions/signal.py, appended to
# the stdlib's signal.py by mkzip.py). WASI has no sigfillset() or
# siginterrupt(), so _signal lacks valid_signals() and siginterrupt(), which
# asyncio's loop.add_signal_handler() calls. A signal that wasmrun delivers
# (signal.signal subscribes to it) interrupts a wait as a signal without
# SA_RESTART does, whatever siginterrupt says.
if "valid_signals" not in globals():
    def valid_signals():
        """Return a set of the signal numbers of this platform."""
        return set(Signals)

if "siginterrupt" not in globals():
    def siginterrupt(signalnum, flag):
        """Accepted for compatibility; delivered signals always interrupt waits."""
        if not 1 <= signalnum < NSIG:
            raise ValueError("signal number out of range")
