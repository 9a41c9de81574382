#!/usr/bin/env bash
# Start-up benchmark (make bench): start-to-exit time of a hello program,
# native vs wasmrun (no cache, warm cache) vs wazero's own CLI, measured with
# hyperfine. Prints a table with ratios and writes it into bench/README.md.
# Timings are reported, never asserted.
#
#   bench/run.sh            # RUNS=100 WARMUP=10 by default
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-10}
WAZERO_VERSION=v1.12.0
GO=${GO:-go}

need() { command -v "$1" >/dev/null 2>&1; }

if ! need hyperfine; then
	echo "bench: installing hyperfine" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: hyperfine is missing; run as root or: sudo apt-get install hyperfine" >&2
		exit 1
	fi
	apt-get install -y -qq --no-install-recommends hyperfine >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends hyperfine >/dev/null; }
fi
if ! need clang-14; then
	echo "bench: clang-14 is missing (scripts/install-deps.sh installs it)" >&2
	exit 1
fi
cc=gcc
need gcc || cc=clang-14

mkdir -p bin
if [ ! -x bin/wazero ]; then
	echo "bench: installing wazero $WAZERO_VERSION CLI into bin/" >&2
	GOBIN="$repo/bin" "$GO" install "github.com/tetratelabs/wazero/cmd/wazero@$WAZERO_VERSION"
fi
make --no-print-directory build >/dev/null

work=$(mktemp -d /tmp/wasmrun-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

clang-14 --target=wasm32-wasi -O2 -o "$work/hello.wasm" bench/hello.c
"$cc" -O2 -o "$work/hello" bench/hello.c

# Each must print hello (and warms its cache).
for cmd in "$work/hello" \
	"bin/wasmrun run --no-cache $work/hello.wasm" \
	"bin/wasmrun run --cache-dir $work/wasmrun-cache $work/hello.wasm" \
	"bin/wazero run -cachedir $work/wazero-cache $work/hello.wasm"; do
	out=$($cmd) || { echo "bench: $cmd failed" >&2; exit 1; }
	[ "$out" = hello ] || { echo "bench: $cmd printed '$out', want hello" >&2; exit 1; }
done

hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$work/results.json" \
	-n native "$work/hello" \
	-n "wasmrun run --no-cache" "bin/wasmrun run --no-cache $work/hello.wasm" \
	-n "wasmrun run (warm cache)" "bin/wasmrun run --cache-dir $work/wasmrun-cache $work/hello.wasm" \
	-n "wazero run (no cache)" "bin/wazero run $work/hello.wasm" \
	-n "wazero run -cachedir (warm)" "bin/wazero run -cachedir $work/wazero-cache $work/hello.wasm" \
	>&2

table=$("$GO" run ./bench/table "$work/results.json")
# The same start in-process (no Go binary start-up): runner.Run of the
# runner's own small C guest, without and with a warm cache.
inproc=$("$GO" test -run '^$' -bench '^BenchmarkStart$' -benchtime 200x ./internal/runner/ |
	awk '/^BenchmarkStart\// {sub(/-[0-9]+$/, "", $1); printf "| %s | %.2f ms |\n", $1, $3/1e6}')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), $("$GO" version | cut -d' ' -f3), load average $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "$table"
echo
echo "$inproc"
echo
echo "$machine"

cat >bench/README.md <<README
# Start-up benchmark

\`make bench\` (= \`bench/run.sh\`) measures start-to-exit of a hello program
([hello.c](hello.c)) with [hyperfine](https://github.com/sharkdp/hyperfine)
(\`-N\`, $WARMUP warm-up runs, $RUNS runs each):

- **native**: hello.c built with $cc -O2;
- **wasmrun run --no-cache**: the same source built with clang-14 --target=wasm32-wasi -O2,
  compiled on every start;
- **wasmrun run (warm cache)**: with a private, warm \`--cache-dir\`;
- **wazero run**: wazero's own CLI ($WAZERO_VERSION, installed into bin/), without and with a
  warm \`-cachedir\`.

Target: a warm start of a small C guest under 20 ms and no slower than wazero's CLI.
Ratios are reported, never asserted in tests. Wall-clock times swing with the
machine's load; the CPU time (user+sys, from hyperfine) is the steadier
comparison.

Where a warm start goes (\`go test -bench Start ./internal/runner\` runs
it in-process, without the cost of starting a Go binary): creating the
runtime, reading and checksumming the cached machine code, compiling the Go
trampolines of the host functions the guest imports (not cacheable in
wazero), instantiating, running. The runner turns off wazero's DWARF
support (\`runner.Options.DebugInfo\`): with it on, wazero parses the
module's DWARF on every start and walks it on every \`proc_exit\` (which
unwinds like a trap), which cost about 4 ms of a 7 ms in-process start of a
guest that exits through proc_exit. The rest of a CLI start is the Go binary
itself (runtime and package initialisation, page faults), for wasmrun as for
wazero's CLI. The \`wasmrun\` binary also links oci and cni for \`wasmrun os\`
(libcni brings OpenTelemetry and net/http): on an idle machine, with
\`perf stat -r 50\`, a binary linking only the runner started and ran hello in
17.1 ms, \`wasmrun run\` in 19.6 ms and wazero's CLI in 18.6-19.3 ms; a
\`run\` binary of its own would win those 2.5 ms back.

Last run ($(date -u +%Y-%m-%d), $machine):

$table

In-process (\`go test -bench '^BenchmarkStart\$' ./internal/runner\`: Prepare and
Run of a small C guest, no process start-up):

| benchmark | time per start |
|---|---:|
$inproc

Produced by:

    make bench          # or: bench/run.sh   (RUNS=$RUNS WARMUP=$WARMUP)
README
echo "bench: table written to bench/README.md" >&2
