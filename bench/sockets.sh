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
# connections (with the load client, and with wrk: 1 thread, 16
# connections; wrk is installed from the distribution with apt-get when it
# is missing), and the CPU the listening server uses while idle. Prints a
# table with ratios vs native and vs wasi-go and writes it into
# bench/sockets.md. Numbers are reported, never asserted.
#
# Each load figure is the best of REPS runs of DURATION (the machine's other
# load only ever slows a run down), the runs of all configurations
# interleaved; the idle figure is one run of IDLE.
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
if ! command -v wrk >/dev/null; then
	echo "bench: installing wrk (apt-get install wrk)" >&2
	apt-get install -y -qq wrk >/dev/null 2>&1 ||
		echo "bench: could not install wrk; its rows stay n/a" >&2
fi
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
metrics=(pp1 pp16 cpu16 bulk http wrk idle)
# Metrics where the lowest of the runs is the best one (a cost).
declare -A lower=([cpu16]=1)

declare -A label=(
	[pp1]="ping-pong 64 B, 1 conn (round trips/s)"
	[pp16]="ping-pong 64 B, 16 conns (round trips/s)"
	[cpu16]="ping-pong 64 B, 16 conns: server CPU per round trip (µs, lower is better)"
	[bulk]="bulk echo, 1 conn (MB/s)"
	[http]="HTTP hello, 16 conns (requests/s)"
	[wrk]="HTTP hello, wrk 1 thread 16 conns (requests/s)"
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

# wrk_rps ADDR: one wrk run (1 thread, 16 connections, DURATION) against
# http://ADDR/; prints its requests/s, or fails when wrk is missing or saw
# errors.
wrk_rps() {
	command -v wrk >/dev/null || { echo "wrk is not installed" >&2; return 1; }
	local out
	out=$(wrk -t1 -c16 -d"$DURATION" "http://$1/" 2>&1) || { echo "$out" >&2; return 1; }
	if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
		grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' >&2
		return 1
	fi
	awk '/^Requests\/sec:/ { printf "%.0f\n", $2; ok = 1 } END { exit !ok }' <<<"$out"
}

# cpu_per_op LOAD-ARGS...: one load run; prints the server's CPU time
# (utime+stime of server_pid, all its threads) per operation in µs.
cpu_per_op() {
	local t0 t1 v
	t0=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
	v=$("$load" "$@") || return 1
	t1=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
	awk -v d=$((t1 - t0)) -v v="$v" -v s="$duration_s" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.1f\n", d * 1e6 / hz / (v * s) }'
}
duration_s=$(awk -v d="$DURATION" 'BEGIN {
	if (d ~ /ms$/) print substr(d, 1, length(d) - 2) / 1000
	else if (d ~ /s$/) print substr(d, 1, length(d) - 1)
	else if (d ~ /m$/) print substr(d, 1, length(d) - 1) * 60
	else print d }')

# measure CONFIG METRIC RUN RUNS COMMAND...: run RUN of RUNS of COMMAND
# (the load client, cpu_per_op or wrk_rps), which prints one number; keeps
# the best so far in best[CONFIG.METRIC] and counts failures.
declare -A best failed
measure() {
	local cfg=$1 metric=$2 run=$3 runs=$4
	shift 4
	local v msg
	if v=$("$@" 2>"$work/load.err"); then
		best[$cfg.$metric]=$(awk -v a="${best[$cfg.$metric]:-}" -v b="$v" -v low="${lower[$metric]:-}" \
			'BEGIN { print (a == "" || (low ? b + 0 < a + 0 : b + 0 > a + 0)) ? b : a }')
	else
		failed[$cfg.$metric]=$((${failed[$cfg.$metric]:-0} + 1))
		msg=$(tail -1 "$work/load.err")
		echo "bench: $cfg $metric run $run failed: $msg" >&2
		failures+="- $cfg, ${label[$metric]}, run $run of $runs: \`$msg\`"$'\n'
	fi
	echo "bench:   [${SECONDS}s] $cfg $metric run $run = ${v:-failed}" >&2
}

# The runs are interleaved: each round starts every configuration in turn
# and runs each load once, so that the machine's other load, which drifts,
# weighs on every column alike (one column measured a minute after another
# compared badly on a shared machine). Only one server runs at a time:
# stock wazero's idle server spins on a core.
for run in $(seq "$REPS"); do
	for cfg in "${configs[@]}"; do
		read -r ep hp <<<"$("$load" ports 2)"
		echo "bench: [${SECONDS}s] round $run: $cfg (echo :$ep, http :$hp)" >&2
		if ! start "$cfg" "$ep" "$hp"; then
			stop
			continue
		fi
		if [ "$run" = 1 ]; then
			sleep 1 # let start-up work (GC, scavenger) settle before the idle run
			measure "$cfg" idle 1 1 "$load" idle "$server_pid" "$IDLE"
		fi
		measure "$cfg" pp1 "$run" "$REPS" "$load" pingpong "127.0.0.1:$ep" 1 "$DURATION"
		measure "$cfg" pp16 "$run" "$REPS" "$load" pingpong "127.0.0.1:$ep" 16 "$DURATION"
		measure "$cfg" cpu16 "$run" "$REPS" cpu_per_op pingpong "127.0.0.1:$ep" 16 "$DURATION"
		measure "$cfg" bulk "$run" "$REPS" "$load" bulk "127.0.0.1:$ep" "$DURATION"
		measure "$cfg" http "$run" "$REPS" "$load" http "127.0.0.1:$hp" 16 "$DURATION"
		measure "$cfg" wrk "$run" "$REPS" wrk_rps "127.0.0.1:$hp"
		stop
	done
done

# results[CONFIG.METRIC]: the best run, with a † when some run failed, or
# n/a when every run failed.
for cfg in "${configs[@]}"; do
	for m in "${metrics[@]}"; do
		if [ -z "${best[$cfg.$m]:-}" ]; then
			results[$cfg.$m]=n/a
		elif [ "${failed[$cfg.$m]:-0}" -gt 0 ]; then
			results[$cfg.$m]="${best[$cfg.$m]} †"
		else
			results[$cfg.$m]=${best[$cfg.$m]}
		fi
	done
done

# Instances (wasmrun os --instances N, issue 16): the sock guest as an app
# of `wasmrun os` in its own namespace, 1 and 2 instances of it listening
# on the same ports (SO_REUSEPORT), and wrk run inside that namespace (ip
# netns exec) against its 127.0.0.1, so no forward sits in between. Rounds
# interleave the two counts as above.
instance_counts=(1 2)
declare -A inst
appdir="$work/app"
mkdir -p "$appdir"
cp "$work/server.wasm" "$appdir/app.wasm"
# wrk_rps_in NETNS ADDR: wrk_rps run inside network namespace NETNS.
wrk_rps_in() {
	command -v wrk >/dev/null || { echo "wrk is not installed" >&2; return 1; }
	local out
	out=$(ip netns exec "$1" wrk -t1 -c16 -d"$DURATION" "http://$2/" 2>&1) || { echo "$out" >&2; return 1; }
	if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
		grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' >&2
		return 1
	fi
	awk '/^Requests\/sec:/ { printf "%.0f\n", $2; ok = 1 } END { exit !ok }' <<<"$out"
}
for run in $(seq "$REPS"); do
	for n in "${instance_counts[@]}"; do
		name="sockbench-$$-$n"
		out="$work/os$n.out"
		bin/wasmrun os --cache-dir "$cache/wasmrun" --name "$name" --instances "$n" "$appdir" \
			-- 127.0.0.1:8081 127.0.0.1:8080 >"$out" 2>"$work/os$n.err" &
		server_pid=$!
		ready=
		for i in $(seq 1200); do
			[ "$(grep -c '^ready$' "$out")" -ge "$n" ] && { ready=1; break; }
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if [ -z "$ready" ]; then
			echo "bench: wasmrun os --instances $n did not become ready:" >&2
			tail -5 "$work/os$n.err" >&2
			stop
			continue
		fi
		echo "bench: [${SECONDS}s] round $run: wasmrun os --instances $n" >&2
		measure "os$n" wrk "$run" "$REPS" wrk_rps_in "wasmrun-$name" 127.0.0.1:8080
		stop # SIGTERM: the app stops and its namespace goes
	done
done
for n in "${instance_counts[@]}"; do
	inst[$n]=${best[os$n.wrk]:-n/a}
	[ "${failed[os$n.wrk]:-0}" -gt 0 ] && [ "${inst[$n]}" != n/a ] && inst[$n]+=" †"
done

# ratio VALUE NATIVE: VALUE/NATIVE as "0.00x", or a dash.
ratio() {
	awk -v v="${1% †}" -v n="${2% †}" 'BEGIN {
		if (v == "n/a" || n == "n/a" || n + 0 == 0) print "–"; else printf "%.2fx", v / n }'
}

declare -A aim=([pp1]="≥ 1x wasi-go" [pp16]="≥ 0.7x native" [cpu16]="" [bulk]="≥ 0.6x native" [http]="" [wrk]="≥ 1.1x wasi-go" [idle]="≤ 1%")
table="| benchmark | native | wasmrun (sock_* API) | wasmrun (--listen fd3) | wazero (-listen fd3) | wasi-go (sock_* API) | wasmrun sock_* / native | wasmrun fd3 / native | wazero / native | wasi-go / native | wasmrun sock_* / wasi-go | aim (wasmrun) |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
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
	if [ "$m" = idle ]; then
		row+=" | –"
	else
		row+=" | $(ratio "${results[sock.$m]}" "${results[wasigo.$m]}")"
	fi
	table+=$'\n'"$row | ${aim[$m]} |"
done

# aimcheck LABEL VALUE BASE FACTOR BASENAME: one line of the aims list:
# VALUE/BASE against the aim FACTOR, met or not.
aimcheck() {
	awk -v l="$1" -v v="${2% †}" -v b="${3% †}" -v f="$4" -v n="$5" 'BEGIN {
		if (v == "n/a" || b == "n/a" || b + 0 == 0) { printf "- %s: not measured\n", l; exit }
		r = v / b
		printf "- %s: %.2fx %s (aim ≥ %sx): %s\n", l, r, n, f, (r >= f ? "met" : "not met") }'
}
insttable="| HTTP hello, wrk 1 thread 16 conns, in the app's namespace | 1 instance | 2 instances | 2 instances / 1 | aim |
|---|---:|---:|---:|---|
| wasmrun os --instances N (requests/s) | ${inst[1]} | ${inst[2]} | $(ratio "${inst[2]}" "${inst[1]}") | ≥ 1.7x on two cores |"
aims="$(aimcheck "ping-pong 64 B, 16 conns" "${results[sock.pp16]}" "${results[native.pp16]}" 0.7 native)
$(aimcheck "ping-pong 64 B, 1 conn" "${results[sock.pp1]}" "${results[wasigo.pp1]}" 1 wasi-go)
$(aimcheck "bulk echo" "${results[sock.bulk]}" "${results[native.bulk]}" 0.6 native)
$(aimcheck "HTTP hello, wrk, one instance" "${results[sock.wrk]}" "${results[wasigo.wrk]}" 1.1 wasi-go)
$(aimcheck "HTTP hello, wrk, 2 instances" "${inst[2]}" "${inst[1]}" 1.7 "one instance")"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), $("$GO" version | cut -d' ' -f3), load average $loadavg at start"
echo
echo "$table"
echo
echo "$insttable"
echo
echo "$machine"

cat >bench/sockets.md <<MD
# Socket benchmarks

\`bench/sockets.sh\` (run by \`make bench\`) runs one Go program,
[bench/sockets/server](sockets/server/main.go) (a TCP echo server and an
HTTP hello server), natively and as a GOOS=wasip1 guest, and drives it with a
native load client, [bench/sockets/load](sockets/load/main.go), over
127.0.0.1. Each load figure is the best of $REPS runs of $DURATION (other
load on the machine only ever slows a run down), taken in $REPS rounds that
each start every server in turn and run every load once, so that the
machine's drifting load weighs on all columns alike; the idle figure samples the
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
**wrk** is [wrk](https://github.com/wg/wrk) 4.1 from Debian (the script
installs it with apt-get when it is missing) with 1 thread and 16
connections against the HTTP server, a load generator that costs less CPU
per request than the Go client. **Server CPU per round trip** is the
server process's CPU time (utime+stime, all threads) during a 16-connection
ping-pong run divided by its round trips (the lowest of $REPS runs): what a
request costs the host, which the machine's other load changes far less
than throughput.

Last run ($(date -u +%Y-%m-%d), $machine):

$table
${failures:+
† Some runs failed; the figure is the best of the others:

$failures}
Several instances (\`wasmrun os --instances N\`, issue 16): the same sock
guest as an app of \`wasmrun os\` in its own namespace, N instances of it
listening on the same ports (SO_REUSEPORT from the host), wrk run inside
that namespace (\`ip netns exec\`) against its 127.0.0.1, so that no forward
sits in between; best of $REPS runs, the two counts interleaved. wrk takes
one of the machine's $(nproc) CPUs itself, so two instances share what is
left with it:

$insttable

Aims from issues 3 and 16 (for wasmrun): ping-pong over 16 connections ≥
0.7x native, one connection ≥ wasi-go, bulk ≥ 0.6x native, HTTP hello
(wrk, one instance) ≥ 1.1x wasi-go and with two instances ≥ 1.7x one,
idle ≤ 1% of a core. Ratios are
reported, never asserted in tests. In this run:

$aims

Ratios against wasi-go within 10% swing from run to run on this shared
machine (the native figures move far more); the server's CPU per round
trip is the steadier comparison.

Per-core work of issue 16 (what the host costs per request). A profile
(\`perf record -g\` of \`wasmrun run\` serving the 16-connection ping-pong and
the HTTP load) showed the host's own Go code at about 10% of the server's
samples, the guest's compiled code at 15-17% (67% for HTTP), and the kernel
at 70-75% (29% for HTTP): the loopback writev alone, which delivers to the
peer and wakes it, was more than half of all samples. Per round trip the
guest makes 2 readv (one gets EAGAIN), 1 writev, 0.7 FIONREAD (the nbytes
of a ready read event, which wasi-go leaves at 0) and 0.08 ppoll; native Go
makes the same reads and write. What the host itself did per call was taken
out: the iovec views, poll_oneoff's subscriptions, poll set and deadlines are
scratch slices reused by every call, sock_recv/sock_send build their iovecs
there too (RecvmsgBuffers allocated a sockaddr per call), the Poller keeps
the context's cancellation armed instead of a context.AfterFunc per wait,
a poll that cannot block (Go's netpoll(0)) is one ppoll with a zero timeout
without the cancellation eventfd or a clock read, each clock is read at most
once after a wait, and system calls that cannot block (a non-blocking
socket's readv, writev, recvmsg, sendmsg, FIONREAD, a zero-timeout ppoll)
are raw, so the Go scheduler does no syscall bookkeeping for them and never
hands the guest thread's P away while a loopback writev is held up in the
kernel. The hot calls now allocate nothing (wasi's BenchmarkHot*:
fd_write+fd_read 2 allocs to 0, sock_send+sock_recv 3 to 0, poll_oneoff
6 allocs and 1840 B to 0) and the server's CPU per 64-byte round trip over
16 connections went from 11.6 to 10.8 µs (medians of 12 interleaved 1 s
runs of the build before and after; wasi-go 11.7). What remains is the
kernel's and the guest's: throughput is bound by the guest's one thread,
which the load client's threads preempt on the two CPUs of this machine
(with server and client pinned to different CPUs, the same build does
70-78k round trips/s over 16 connections, native 146k), and HTTP by the
guest's own compiled Go code, which is the same wazero code under wasi-go.

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
