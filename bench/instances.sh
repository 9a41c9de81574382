#!/usr/bin/env bash
# Memory of instances (issue 16): the idle RSS and PSS of the container
# process of `wasmrun os --instances N` running the Go HTTP hello server of
# the socket benchmarks (bench/sockets/server, GOOS=wasip1), for N = 1, 2
# and 4. Each instance has been sent HTTP requests (so its net/http is
# warm), then the app idles 2 s before /proc/PID/smaps_rollup is read.
# Median of ROUNDS runs. Writes bench/instances.md. Needs root (a network
# namespace); the requests go to 127.0.0.1 inside the app's namespace.
# Numbers are reported, never asserted.
#
#   sudo bench/instances.sh      # ROUNDS=3 by default
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
GO=${GO:-go}
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/instances: needs root (wasmrun os makes a network namespace)" >&2
	exit 1
fi
make --no-print-directory build >/dev/null

work=$(mktemp -d /tmp/wasmrun-instances.XXXXXX)
export WASMRUN_STATE_DIR="$work/state"
prefix=wrinst$$
name=
cleanup() {
	if [ -n "$name" ]; then
		bin/wasmrun stop --time 2s "$name" >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

(cd bench/sockets && GOOS=wasip1 GOARCH=wasm "$GO" build -o "$work/app/app.wasm" ./server)
printf '[network]\nnamespace_prefix = "%s"\n' "$prefix" >"$work/app/.wasmrun.toml"

# kb FIELD PID: FIELD of /proc/PID/smaps_rollup in kB.
kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/smaps_rollup"; }

# parts PID: "GUEST CODE OTHER", the RSS in kB of the guests' memories
# (each a reservation of 4 GiB or more), of executable mappings (the
# module's machine code and wasmrun's own) and of the rest (the Go heap
# and runtime of the process, wazero's structures).
parts() {
	local g=0 x=0 o=0 size=0 perm= first second rest
	while read -r first second rest; do
		if [[ $first =~ ^([0-9a-f]+)-([0-9a-f]+)$ ]]; then
			size=$((16#${BASH_REMATCH[2]} - 16#${BASH_REMATCH[1]})) perm=$second
		elif [ "$first" = Rss: ]; then
			if [ "$size" -ge $((1 << 32)) ]; then
				g=$((g + second))
			elif [[ $perm == *x* ]]; then
				x=$((x + second))
			else
				o=$((o + second))
			fi
		fi
	done <"/proc/$1/smaps"
	echo "$g $x $o"
}

# median of the arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure N ROUND: prints "RSS PSS GUEST CODE OTHER" (kB) of the idle
# container process.
measure() {
	local n=$1 round=$2 out="$work/out" err="$work/err" i pid
	name=inst$n-$round
	bin/wasmrun os --cache-dir "$work/cache" --no-outbound --name "$name" --instances "$n" "$work/app" \
		-- 127.0.0.1:7000 0.0.0.0:8080 >"$out" 2>"$err" &
	for i in $(seq 1200); do
		[ "$(grep -c '^ready$' "$out")" -ge "$n" ] && break
		sleep 0.1
	done
	if [ "$(grep -c '^ready$' "$out")" -lt "$n" ]; then
		echo "bench/instances: $n instances did not all get ready:" >&2
		tail -5 "$err" >&2
		exit 1
	fi
	# Requests until every instance served some (the kernel picks).
	ip netns exec "$prefix-$name" bash -c '
		for i in $(seq '$((20 * n))'); do
			exec 3<>/dev/tcp/127.0.0.1/8080
			printf "GET / HTTP/1.0\r\n\r\n" >&3
			cat <&3 >/dev/null
			exec 3<&-
		done'
	sleep 2
	pid=$(bin/wasmrun ps | awk -v id="$name" '$1 == id { print $2 }')
	echo "$(kb Rss "$pid") $(kb Pss "$pid") $(parts "$pid")"
	bin/wasmrun stop "$name" >/dev/null
	wait
	name=
}

declare -A rss pss guest code other
for round in $(seq "$ROUNDS"); do
	for n in 1 2 4; do
		read -r r p g x o < <(measure "$n" "$round")
		rss[$n]+="$r "
		pss[$n]+="$p "
		guest[$n]+="$g "
		code[$n]+="$x "
		other[$n]+="$o "
		echo "bench/instances: round $round, $n instance(s): RSS $r kB, PSS $p kB" >&2
	done
done

mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
rows=
r1=$(median ${rss[1]}) p1=$(median ${pss[1]})
for n in 1 2 4; do
	r=$(median ${rss[$n]}) p=$(median ${pss[$n]})
	extra="-"
	if [ "$n" -gt 1 ]; then
		extra="$(mb $(((r - r1) / (n - 1)))) RSS, $(mb $(((p - p1) / (n - 1)))) PSS"
	fi
	rows+="| $n | $(mb "$r") | $(mb "$p") | $extra | $(mb "$(median ${guest[$n]})") | $(mb "$(median ${code[$n]})") | $(mb "$(median ${other[$n]})") |"$'\n'
done
machine="$(nproc) CPUs, $(uname -r)"

cat >bench/instances.md <<MD
# Instances: memory

\`wasmrun os --instances N\` runs N instances of an app's module in its one
container process: they share the runtime and the compiled code, and each
has its own linear memory, Go heap (inside that memory), descriptors and
wasi host modules. [bench/instances.sh](instances.sh) measures what an
instance costs: the container process of the Go HTTP hello server of the
socket benchmarks ([bench/sockets/server](sockets/server), GOOS=wasip1, a
net/http server and a TCP echo server), with N instances that have all
served requests, after 2 s idle; RSS and PSS from /proc/PID/smaps_rollup,
median of $ROUNDS runs, warm compile cache.

| instances | RSS | PSS | each instance past the first | of the RSS: guest memories | executable code | the rest (Go heap, runtime) |
|---:|---:|---:|---:|---:|---:|---:|
$rows
- The first instance carries the compiled code (the machine code of the
  module, read from the cache, and wasmrun's own) and the Go runtime of the
  container process; an instance past it costs its linear memory (what its
  Go runtime has touched: heap, stacks, data) and host-side state (its
  wasi host modules, wazero's per-instance structures, the process's Go
  heap growing with them), far less than the first. The executable code
  does not grow with the instances: they share it.
- PSS is within a few kB of RSS: the container process shares next to
  nothing with other processes (the machine code of the module is in
  anonymous executable memory, read from the cache, not a shared mapping).

Last run ($(date -u +%Y-%m-%d), $machine).

Produced by:

    sudo bench/instances.sh      (ROUNDS=$ROUNDS)
MD
echo "bench/instances: table written to bench/instances.md" >&2
