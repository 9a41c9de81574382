#!/usr/bin/env bash
# Socket benchmarks (issue 3): one Go program (bench/sockets/server: a TCP
# echo server and an HTTP hello server) run natively and as a wasip1 guest,
# driven by a native load client (bench/sockets/load) on 127.0.0.1:
#
#   - native:                 the server built for linux (net.Listen);
#   - wasmrun (sock_* API):   under wasmrun, listening itself through the
#                             WasmEdge socket API (github.com/stealthrocket/net);
#   - wasmrun (--listen fd3): under wasmrun on preopened listeners
#                             (wasmrun run --listen, net.FileListener(fd 3/4));
#   - wazero (-listen fd3):   the same fd3 guest (built -tags fd3only, without
#                             stealthrocket/net) under stock wazero's CLI,
#                             whose experimental/sock only accepts on
#                             preopened listeners;
#   - wasi-go (sock_* API):   the sock guest under wasi-go's wasirun
#                             (github.com/stealthrocket/wasi-go v0.8.0 on
#                             wazero v1.12.0, pinned in bench/wasigo/tool),
#                             the runtime stealthrocket/net was written for.
#
# Measures 64-byte ping-pong over 1 and 16 connections, echoed bulk
# throughput on one connection, HTTP requests/s over 16 keep-alive
# connections, and the CPU the listening server uses while idle. Prints a
# table with ratios vs native and writes it into bench/sockets.md. Numbers
# are reported, never asserted.
#
# Each load figure is the best of REPS runs of DURATION (the machine's other
# load only ever slows a run down); the idle figure is one run of IDLE.
#
#   bench/sockets.sh        # REPS=3 DURATION=1s IDLE=10s by default
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-1s}
IDLE=${IDLE:-10s}
WAZERO_VERSION=v1.12.0
GO=${GO:-go}
export GOWORK=off
cache=${WASMRUN_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmrun-bench}
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p bin "$cache/wasmrun" "$cache/wazero"
if [ ! -x bin/wazero ]; then
	echo "bench: installing wazero $WAZERO_VERSION CLI into bin/" >&2
	GOBIN="$repo/bin" "$GO" install "github.com/tetratelabs/wazero/cmd/wazero@$WAZERO_VERSION"
fi
bench/wasigo/build-wasirun.sh
make --no-print-directory build >/dev/null

work=$(mktemp -d /tmp/wasmrun-sockbench.XXXXXX)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "bench: [${SECONDS}s] building the servers and the load client" >&2
(
	cd bench/sockets
	"$GO" build -o "$work/load" ./load
	"$GO" build -o "$work/server" ./server
	GOOS=wasip1 GOARCH=wasm "$GO" build -o "$work/server.wasm" ./server
	GOOS=wasip1 GOARCH=wasm "$GO" build -tags fd3only -o "$work/server-fd3.wasm" ./server
)
load="$work/load"

# results[CONFIG.METRIC] = number (with a † when some run failed), or
# n/a when every run failed; failures lists what went wrong.
declare -A results
failures=
configs=(native sock fd3 wazero wasigo)
metrics=(pp1 pp16 bulk http idle)

declare -A label=(
	[pp1]="ping-pong 64 B, 1 conn (round trips/s)"
	[pp16]="ping-pong 64 B, 16 conns (round trips/s)"
	[bulk]="bulk echo, 1 conn (MB/s)"
	[http]="HTTP hello, 16 conns (requests/s)"
	[idle]="idle CPU over $IDLE (% of a core)"
)

# start CONFIG ECHOPORT HTTPPORT: starts the server in the background,
# sets server_pid, waits for its "ready" line.
start() {
	local cfg=$1 ep=$2 hp=$3
	local out="$work/$cfg.out" err="$work/$cfg.err"
	case $cfg in
	native) "$work/server" "127.0.0.1:$ep" "127.0.0.1:$hp" >"$out" 2>"$err" & ;;
	sock) bin/wasmrun run --cache-dir "$cache/wasmrun" "$work/server.wasm" \
		-- "127.0.0.1:$ep" "127.0.0.1:$hp" >"$out" 2>"$err" & ;;
	fd3) bin/wasmrun run --cache-dir "$cache/wasmrun" \
		--listen "127.0.0.1:$ep" --listen "127.0.0.1:$hp" \
		"$work/server-fd3.wasm" -- --fd3 >"$out" 2>"$err" & ;;
	wazero) bin/wazero run -cachedir "$cache/wazero" \
		-listen "127.0.0.1:$ep" -listen "127.0.0.1:$hp" \
		"$work/server-fd3.wasm" --fd3 >"$out" 2>"$err" & ;;
	wasigo) bin/wasirun "$work/server.wasm" \
		-- "127.0.0.1:$ep" "127.0.0.1:$hp" >"$out" 2>"$err" & ;;
	esac
	server_pid=$!
	# A preopened listener accepts before the guest runs, so wait for the
	# guest's own "ready" (the first start also fills the compile cache).
	local i
	for i in $(seq 1200); do
		grep -q '^ready$' "$out" && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: $cfg server did not become ready:" >&2
	tail -5 "$err" >&2
	return 1
}

stop() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# measure CONFIG METRIC RUNS LOAD-ARGS...: the best of RUNS load runs
# into results.
measure() {
	local cfg=$1 metric=$2 runs=$3
	shift 3
	local v best= failed=0 i msg
	for i in $(seq "$runs"); do
		if v=$("$load" "$@" 2>"$work/load.err"); then
			best=$(awk -v a="$best" -v b="$v" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }')
		else
			failed=$((failed + 1))
			msg=$(tail -1 "$work/load.err")
			echo "bench: $cfg $metric run $i failed: $msg" >&2
			failures+="- $cfg, ${label[$metric]}, run $i of $runs: \`$msg\`"$'\n'
		fi
	done
	if [ -z "$best" ]; then
		results[$cfg.$metric]=n/a
	elif [ "$failed" -gt 0 ]; then
		results[$cfg.$metric]="$best †"
	else
		results[$cfg.$metric]=$best
	fi
	echo "bench:   [${SECONDS}s] $cfg $metric = ${results[$cfg.$metric]}" >&2
}

for cfg in "${configs[@]}"; do
	read -r ep hp <<<"$("$load" ports 2)"
	echo "bench: [${SECONDS}s] $cfg (echo :$ep, http :$hp)" >&2
	for m in "${metrics[@]}"; do results[$cfg.$m]=n/a; done
	if ! start "$cfg" "$ep" "$hp"; then
		stop
		continue
	fi
	sleep 1 # let start-up work (GC, scavenger) settle before the idle run
	measure "$cfg" idle 1 idle "$server_pid" "$IDLE"
	measure "$cfg" pp1 "$REPS" pingpong "127.0.0.1:$ep" 1 "$DURATION"
	measure "$cfg" pp16 "$REPS" pingpong "127.0.0.1:$ep" 16 "$DURATION"
	measure "$cfg" bulk "$REPS" bulk "127.0.0.1:$ep" "$DURATION"
	measure "$cfg" http "$REPS" http "127.0.0.1:$hp" 16 "$DURATION"
	stop
done

# ratio VALUE NATIVE: VALUE/NATIVE as "0.00x", or a dash.
ratio() {
	awk -v v="${1% †}" -v n="${2% †}" 'BEGIN {
		if (v == "n/a" || n == "n/a" || n + 0 == 0) print "–"; else printf "%.2fx", v / n }'
}

declare -A aim=([pp1]="" [pp16]="≥ 0.7x" [bulk]="≥ 0.6x" [http]="" [idle]="≤ 1%")
table="| benchmark | native | wasmrun (sock_* API) | wasmrun (--listen fd3) | wazero (-listen fd3) | wasi-go (sock_* API) | wasmrun sock_* / native | wasmrun fd3 / native | wazero / native | wasi-go / native | aim (wasmrun) |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for m in "${metrics[@]}"; do
	n=${results[native.$m]}
	row="| ${label[$m]} | $n | ${results[sock.$m]} | ${results[fd3.$m]} | ${results[wazero.$m]} | ${results[wasigo.$m]}"
	for cfg in sock fd3 wazero wasigo; do
		if [ "$m" = idle ]; then
			row+=" | –"
		else
			row+=" | $(ratio "${results[$cfg.$m]}" "$n")"
		fi
	done
	table+=$'\n'"$row | ${aim[$m]} |"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), $("$GO" version | cut -d' ' -f3), load average $loadavg at start"
echo
echo "$table"
echo
echo "$machine"

cat >bench/sockets.md <<MD
# Socket benchmarks

\`bench/sockets.sh\` (run by \`make bench\`) runs one Go program,
[bench/sockets/server](sockets/server/main.go) (a TCP echo server and an
HTTP hello server), natively and as a GOOS=wasip1 guest, and drives it with a
native load client, [bench/sockets/load](sockets/load/main.go), over
127.0.0.1. Each load figure is the best of $REPS runs of $DURATION (other
load on the machine only ever slows a run down); the idle figure samples the
server's CPU time (utime+stime from /proc/PID/stat) over $IDLE, one second
after it reported ready, with no connection open.

- **native**: the server built for linux, listening with net.Listen;
- **wasmrun (sock_* API)**: \`wasmrun run\` (warm compile cache); the guest
  listens itself through the WasmEdge socket API
  (github.com/stealthrocket/net v0.2.1);
- **wasmrun (--listen fd3)**: \`wasmrun run --listen\`; the guest serves the
  preopened listeners at fd 3 and 4 with \`net.FileListener\`;
- **wazero (-listen fd3)**: the same fd3 guest (built \`-tags fd3only\`, without
  stealthrocket/net, whose sock_* imports stock wazero lacks) under wazero's
  own CLI $WAZERO_VERSION with \`-listen\` (experimental/sock: accept, recv,
  send and shutdown on preopened listeners only);
- **wasi-go (sock_* API)**: the sock guest under wasi-go's \`wasirun\`
  (github.com/stealthrocket/wasi-go v0.8.0, built against wazero v1.12.0 from
  [bench/wasigo/tool](wasigo/tool/go.mod)): the runtime stealthrocket/net was
  written for, with its own WasmEdge socket extension and a real poll.

The load client: **ping-pong** writes 64 bytes and reads the 64-byte echo,
on 1 or 16 connections in parallel (round trips per second, all connections
together); **bulk** writes 32 KiB chunks on one connection while reading
the echo back (echoed MB/s, 1 MB = 10^6 bytes); **HTTP** sends \`GET /\` on
16 keep-alive connections and reads each response (requests per second).
The echo loop is an explicit Read/Write with a 32 KiB buffer, so the native
server makes the same syscalls as the guest (io.Copy would splice).

Last run ($(date -u +%Y-%m-%d), $machine):

$table
${failures:+
† Some runs failed; the figure is the best of the others:

$failures}
Aims from issue 3 (for wasmrun): ping-pong over 16 connections ≥ 0.7x
native, bulk ≥ 0.6x, idle ≤ 1% of a core. Ratios are reported, never
asserted in tests.

What the numbers mean:

- The load client runs on the same machine and competes with the server for
  the CPUs, and the numbers swing with the machine's load (see the load
  average above); compare columns of the same run, not runs.
- A wasip1 guest runs Go on one thread: the native server can use every CPU,
  the guest one. Ping-pong and bulk are mostly syscalls and the host's work per
  call. HTTP is mostly Go code (net/http parsing, allocation, goroutine
  switches, GC) running as WebAssembly, several times slower than native
  code; per request the guest makes one fd_read and one fd_write, so the HTTP
  ratio measures the guest's compute, not the socket layer. Both runtimes
  compile with wazero and leave out its per-loop cancellation check
  (\`WithCloseOnContextDone\`, which compiles an exit-code check into the head
  of every loop): wasmrun stops its guests with signals instead, and wazero's
  CLI turns the check on only with \`-timeout\`. With the check on, HTTP
  guests served about half the requests/s.
- wasi-go runs the same sock guest on the same wazero, with a socket layer
  of its own; the two are close and which one is ahead swings from run to
  run (a separate check of the server's CPU time per round trip on one
  connection gave about 40 µs for both). What wasi-go cannot run is in
  [wasigo.md](wasigo.md).
- clock_time_get reads CLOCK_MONOTONIC and CLOCK_REALTIME through the vDSO,
  as Go's runtime does: a Go guest reads the clock about 11 times per HTTP
  request, and a clock_gettime system call costs about 2.7 µs in this VM
  (vs 35 ns through the vDSO).
- Idle CPU: wasmrun's poll_oneoff sleeps in the kernel (ppoll) until a
  socket is ready or the next timer is due, so an idle listening guest costs
  next to nothing. Stock wazero's poll_oneoff does not wait on socket
  subscriptions: it reports a non-blocking fd ready at once (and, if a clock
  subscription is present too, sleeps for the whole clock timeout even when a
  socket becomes ready). Go's scheduler therefore spins on poll_oneoff
  whenever the guest waits for the network with no timer pending: that spin
  is wazero's idle column (up to a whole core, less when the machine is
  busy and the spinning process gets only its share), and it competes with
  real work under load. Its bulk figure swings widely from run to run (from
  a few MB/s to the order of wasmrun's), and its echo guest now and then
  sees \`fd_write: I/O error\` or \`not pollable\` and drops the connection
  (a † in the table).

Produced by:

    make bench          # or: bench/sockets.sh   (REPS=$REPS DURATION=$DURATION IDLE=$IDLE)
MD
echo "bench: table written to bench/sockets.md" >&2
