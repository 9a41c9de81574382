#!/usr/bin/env bash
# Isolation benchmark (make bench): what network isolation costs.
#   1. time to a ready namespace with loopback, and with bridge + portmap
#      (one forward), through our cni package vs plain libcni running the
#      same plugins on a namespace made the plain way (bench/isolation, cni
#      mode: interleaved runs, medians);
#   2. start-to-exit of `wasmrun os hello.wasm` (own namespace, with and
#      without outbound) vs `wasmrun os` with isolation = false vs
#      `wasmrun run hello.wasm`, warm compile cache (bench/isolation, start
#      mode: round-robin runs);
#   3. outbound bulk TCP from an outside host (a namespace with a veth),
#      and UDP round trips to it:
#      native client vs the same program as a guest of run and of os.
# Prints the tables with ratios and writes them into bench/isolation.md.
# Timings are reported, never asserted. Needs root (namespaces, a bridge,
# iptables rules); everything it makes is private and removed at the end:
# bridge wrbench0 on 10.237.0.0/24, namespaces wrb<random>-* and
# wrbos-<pid>-*, state and caches under a temp dir.
#
#   bench/isolation.sh     # LOOPBACK=300 LOOPBACK_PLAIN=30 BRIDGE=10 RUNS=30 WARMUP=3 UDP_RUNS=5 UDP_TRIPS=2000
set -euo pipefail

cd "$(dirname "$0")/.."
LOOPBACK=${LOOPBACK:-300}
LOOPBACK_PLAIN=${LOOPBACK_PLAIN:-30}
BRIDGE=${BRIDGE:-10}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
BULK=${BULK:-7}           # bulk download runs per client
BULK_MB=${BULK_MB:-256}   # megabytes per download
UDP_RUNS=${UDP_RUNS:-5}     # UDP round-trip runs per client
UDP_TRIPS=${UDP_TRIPS:-2000} # round trips per run
BRIDGE_NAME=wrbench0
SUBNET=10.237.0.0/24
GO=${GO:-go}

need() { command -v "$1" >/dev/null 2>&1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/isolation: needs root (creates network namespaces, a bridge and iptables rules); run: sudo $0" >&2
	exit 1
fi
if ! need clang-14; then
	echo "bench/isolation: clang-14 is missing (scripts/install-deps.sh installs it)" >&2
	exit 1
fi

make --no-print-directory build >/dev/null

work=$(mktemp -d /tmp/wasmrun-isolation.XXXXXX)
prefix="wrbos-$$"
cleanup() {
	[ -n "${src_pid:-}" ] && kill "$src_pid" 2>/dev/null || true
	[ -n "${echo_pid:-}" ] && kill "$echo_pid" 2>/dev/null || true
	ip netns del "$prefix-out" 2>/dev/null || true
	# The Go program removes what it made, also on error and SIGINT; this
	# catches a SIGKILLed run and the namespaces of killed `wasmrun os` runs.
	ip link del "$BRIDGE_NAME" 2>/dev/null || true
	for n in /run/netns/"$prefix"-*; do
		[ -e "$n" ] || continue
		umount -l "$n" 2>/dev/null || true
		rm -f "$n"
	done
	rm -rf "$work"
}
trap cleanup EXIT

"$GO" build -o "$work/isolation" ./bench/isolation

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/isolation: namespaces (cni vs plain libcni)" >&2
nstable=$("$work/isolation" cni -loopback "$LOOPBACK" -loopback-plain "$LOOPBACK_PLAIN" -bridge "$BRIDGE" \
	-dir "$work/cni" -bridge-name "$BRIDGE_NAME" -subnet "$SUBNET")

# The app dirs: hello.wasm with a .wasmrun.toml (own namespace prefix; or
# no isolation), a private state dir and a warm compile cache.
mkdir -p "$work/iso" "$work/noiso" "$work/lo" "$work/dl"
clang-14 --target=wasm32-wasi -O2 -o "$work/iso/hello.wasm" bench/hello.c
cp "$work/iso/hello.wasm" "$work/noiso/hello.wasm"
cp "$work/iso/hello.wasm" "$work/lo/hello.wasm"
printf '[network]\nnamespace_prefix = "%s"\n' "$prefix" >"$work/iso/.wasmrun.toml"
printf '[network]\nnamespace_prefix = "%s"\noutbound = false\n' "$prefix" >"$work/lo/.wasmrun.toml"
printf '[network]\nisolation = false\n' >"$work/noiso/.wasmrun.toml"
export WASMRUN_STATE_DIR="$work/state"
cache="--cache-dir $work/cache"
os_iso="bin/wasmrun os $cache $work/iso/hello.wasm"
os_noiso="bin/wasmrun os $cache $work/noiso/hello.wasm"
os_lo="bin/wasmrun os $cache $work/lo/hello.wasm"
run="bin/wasmrun run $cache $work/iso/hello.wasm"
# Each must print hello (and warms the cache).
for cmd in "$run" "$os_iso" "$os_noiso" "$os_lo"; do
	out=$($cmd) || { echo "bench/isolation: $cmd failed" >&2; exit 1; }
	[ "$out" = hello ] || { echo "bench/isolation: $cmd printed '$out', want hello" >&2; exit 1; }
done

echo "bench/isolation: start-to-exit, $RUNS runs each, round-robin" >&2
ostable=$("$work/isolation" start -runs "$RUNS" -warmup "$WARMUP" \
	"wasmrun run hello.wasm" "$run" \
	"wasmrun os hello.wasm (isolation = false)" "$os_noiso" \
	"wasmrun os hello.wasm (own namespace, outbound = false)" "$os_lo" \
	"wasmrun os hello.wasm (own namespace + outbound: the default)" "$os_iso")

# Outbound bulk TCP: an outside host (a namespace of ours with a veth,
# 10.236.0.2) serves BULK_MB to each connection; the same download client
# runs natively, as a guest of `wasmrun run` (the host's network) and as a
# guest of `wasmrun os` (its own namespace, out through host sockets).
echo "bench/isolation: outbound bulk TCP, $BULK runs of $BULK_MB MB per client" >&2
(cd bench/sockets && "$GO" build -o "$work/download" ./download &&
	GOOS=wasip1 GOARCH=wasm "$GO" build -o "$work/dl/app.wasm" ./download)
printf '[network]\nnamespace_prefix = "%s"\n' "$prefix" >"$work/dl/.wasmrun.toml"
# The C client (bench/download.c), natively and as a guest: C reads with
# little code of its own around each read, so its rows show what the
# network path costs; the Go client's also carry Go's wasip1 runtime.
mkdir -p "$work/dlc"
clang-14 -O2 -o "$work/download-c" bench/download.c
clang-14 --target=wasm32-wasi -O2 -o "$work/dlc/app.wasm" bench/download.c
cp "$work/dl/.wasmrun.toml" "$work/dlc/.wasmrun.toml"
ip netns add "$prefix-out"
ip link add "${prefix:0:10}o" type veth peer name eth0 netns "$prefix-out"
ip addr add 10.236.0.1/24 dev "${prefix:0:10}o"
ip link set "${prefix:0:10}o" up
ip -n "$prefix-out" addr add 10.236.0.2/24 dev eth0
ip -n "$prefix-out" link set eth0 up
ip -n "$prefix-out" link set lo up
mkfifo "$work/src.ready"
ip netns exec "$prefix-out" "$work/download" -serve 10.236.0.2:9000 -bytes $((BULK_MB << 20)) >"$work/src.ready" &
src_pid=$!
read -r _ <"$work/src.ready" # "listening ..."
declare -A bulkcmd=(
	[native]="$work/download 10.236.0.2:9000"
	[run]="bin/wasmrun run $cache $work/dl/app.wasm 10.236.0.2:9000"
	[os]="bin/wasmrun os $cache $work/dl -- 10.236.0.2:9000"
	[cnative]="$work/download-c 10.236.0.2 9000"
	[crun]="bin/wasmrun run $cache $work/dlc/app.wasm 10.236.0.2 9000"
	[cos]="bin/wasmrun os $cache $work/dlc -- 10.236.0.2 9000"
)
declare -A bulkns
for i in $(seq 0 "$BULK"); do # run 0 warms up (compiles the guest)
	for c in native run os cnative crun cos; do
		out=$(${bulkcmd[$c]}) || { echo "bench/isolation: ${bulkcmd[$c]} failed" >&2; exit 1; }
		read -r bytes ns <<<"$out"
		[ "$bytes" = $((BULK_MB << 20)) ] || { echo "bench/isolation: ${bulkcmd[$c]} read '$bytes' bytes" >&2; exit 1; }
		[ "$i" -gt 0 ] && bulkns[$c]+="$ns "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
native_ns=$(median <<<"${bulkns[native]}")
cnative_ns=$(median <<<"${bulkns[cnative]}")
bulktable="| client | median transfer time | throughput | vs native client of its language |
|---|---:|---:|---:|"
for c in native run os cnative crun cos; do
	m=$(median <<<"${bulkns[$c]}")
	nat=$native_ns
	[ "${c:0:1}" = c ] && nat=$cnative_ns
	bulktable+=$'\n'$(awk -v n="$c" -v m="$m" -v b="$BULK_MB" -v nat="$nat" 'BEGIN {
		label["native"] = "native Go client"; label["run"] = "Go guest, wasmrun run (host network)"; label["os"] = "Go guest, wasmrun os (own namespace, host sockets)"
		label["cnative"] = "native C client"; label["crun"] = "C guest, wasmrun run (host network)"; label["cos"] = "C guest, wasmrun os (own namespace, host sockets)"
		printf "| %s | %.1f ms | %.0f MB/s | %.2fx |", label[n], m / 1e6, b / (m / 1e9), nat / m }')
done

# Outbound UDP round trips: an echo server on the outside host answers
# each 32-byte datagram; the same client runs natively, as a guest of run
# (a UDP socket of its own on the host's network) and as a guest of os
# (its datagrams relayed by the wasmrun os process, which checks each).
echo "bench/isolation: outbound UDP, $UDP_RUNS runs of $UDP_TRIPS round trips per client" >&2
mkfifo "$work/echo.ready"
ip netns exec "$prefix-out" "$work/download" -udp-echo 10.236.0.2:9001 >"$work/echo.ready" &
echo_pid=$!
read -r _ <"$work/echo.ready" # "listening ..."
declare -A udpcmd=(
	[native]="$work/download -udp $UDP_TRIPS 10.236.0.2:9001"
	[run]="bin/wasmrun run $cache $work/dl/app.wasm -- -udp $UDP_TRIPS 10.236.0.2:9001"
	[os]="bin/wasmrun os $cache $work/dl -- -udp $UDP_TRIPS 10.236.0.2:9001"
)
declare -A udpns
for i in $(seq 0 "$UDP_RUNS"); do # run 0 warms up
	for c in native run os; do
		out=$(timeout 120 ${udpcmd[$c]}) || { echo "bench/isolation: ${udpcmd[$c]} failed" >&2; exit 1; }
		read -r trips ns <<<"$out"
		[ "$trips" = "$UDP_TRIPS" ] || { echo "bench/isolation: ${udpcmd[$c]} printed '$out'" >&2; exit 1; }
		[ "$i" -gt 0 ] && udpns[$c]+="$ns "
	done
done
native_udp=$(median <<<"${udpns[native]}")
udptable="| client | median round trip | vs native |
|---|---:|---:|"
for c in native run os; do
	m=$(median <<<"${udpns[$c]}")
	udptable+=$'\n'$(awk -v n="$c" -v m="$m" -v t="$UDP_TRIPS" -v nat="$native_udp" 'BEGIN {
		label["native"] = "native Go client"; label["run"] = "guest, wasmrun run (host network)"; label["os"] = "guest, wasmrun os (own namespace, relayed)"
		printf "| %s | %.1f µs | %.2fx |", label[n], m / t / 1e3, nat / m }')
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), $("$GO" version | cut -d' ' -f3), load average $load_before before, $load_after after (1, 5, 15 min)"
plugins=$(for d in /opt/cni/bin /usr/lib/cni; do [ -x "$d/bridge" ] && { echo "$d"; break; }; done)
echo
echo "$nstable"
echo
echo "$ostable"
echo
echo "$bulktable"
echo
echo "$udptable"
echo
echo "$machine"

cat >bench/isolation.md <<MD
# Isolation benchmark

\`bench/isolation.sh\` (run by \`make bench\`, needs root) measures what network
isolation costs. Ratios are reported, never asserted in tests.

## Time to a ready namespace: our cni package vs plain libcni

[bench/isolation](isolation/) (Go, \`isolation cni\`) times, with wall
clock around each call:

- **namespace + loopback**: \`cni.Manager.Setup\` of a new namespace (state
  file under a flock, bind-mounted netns, lo up by ioctl) = *ready*, then
  \`Teardown\`; against plain libcni: the plugins' \`testutils.NewNS\` plus
  the \`loopback\` plugin through \`libcni.AddNetworkList\` (*ready*), then
  \`DelNetworkList\`, close and unmount. $LOOPBACK runs of ours, $LOOPBACK_PLAIN of
  plain, interleaved.
- **bridge + portmap, 1 forward**: \`Setup\` with one forward (bridge +
  host-local + portmap, snat) and \`Teardown\`; against \`testutils.NewNS\`
  plus libcni ADD/DEL of *exactly the network list our Manager generated*
  (read back from its state file): same plugins (${plugins:-/usr/lib/cni}), cniVersion
  1.0.0, bridge $BRIDGE_NAME, $SUBNET, same IPAM dir, same port mapping.
  Before timing, a connection to 127.0.0.1:HOSTPORT is checked to reach a
  listener inside the namespace, for ours and for plain. $BRIDGE runs each,
  alternating which goes first, with one more namespace of ours held on the
  bridge throughout (our teardown deletes the bridge with the last
  namespace on it; held, neither side creates or deletes the bridge in the
  loop). Ours also brings lo up; plain does not.

*ready* is the time until the namespace can be used; medians with means in
brackets (the means carry the machine's load spikes); ratios of the medians.

$nstable

## Start-to-exit: \`wasmrun os\` vs \`wasmrun run\`

[bench/isolation](isolation/) (\`isolation start\`) runs the hello guest
([hello.c](hello.c), clang-14 --target=wasm32-wasi -O2) $RUNS times per command
after $WARMUP warm-up runs, round-robin (on a busy machine hyperfine's one block
of runs per command lets the load drift between commands), with one
private warm \`--cache-dir\` shared by the three and a private
\`WASMRUN_STATE_DIR\`, and checks every run prints hello; wall clock
around fork/exec/wait, CPU time from wait4's rusage (the process and the
container process it waits for):
plain \`wasmrun run\`; \`wasmrun os\` with
\`isolation = false\` in the app's .wasmrun.toml (the OCI machinery: state,
bundle, container process, no namespace); \`wasmrun os\` with its own
namespace and loopback only (\`outbound = false\`); and the default, its own
namespace with outbound traffic through host sockets.

$ostable

## Outbound bulk TCP

A download client reads $BULK_MB MB from a server on an outside host (a
namespace with a veth to the host) in 8 KiB reads and reports the time from
just before its connect to EOF (its own start-up is not in it); $BULK runs
per client after a warm-up, round-robin, medians. Each program runs
natively, as a guest of \`wasmrun run\` (the host's network) and as a guest
of \`wasmrun os\` with its own namespace, whose connection is a host socket
handed to it (no bridge, no NAT). There are two programs: the Go client
([bench/sockets/download](sockets/download/), GOOS=wasip1), whose guest
also runs Go's wasip1 runtime around each read, and the C client
([download.c](download.c), clang-14), whose guest runs little more than
the read itself, so its rows show what the network path costs.

$bulktable

## Outbound UDP round trips

The same program ([bench/sockets/download](sockets/download/)) sends a
32-byte datagram to an echo server on the outside host and waits for the
answer, $UDP_TRIPS times; $UDP_RUNS runs per client after a warm-up,
round-robin, medians of the whole, divided by the round trips. Under
\`wasmrun os\` the guest's datagrams are relayed by the \`wasmrun os\`
process, which checks each destination (the container process holds no
UDP socket of the host's), so each round trip crosses it twice.

$udptable

## Reading it

- The namespace itself is cheap: ours is ready in about a millisecond, and
  most of that is the kernel. Timed once step by step (an instrumented copy
  of the package, loaded 2-CPU machine, medians): \`unshare(CLONE_NEWNET)\`
  0.3-0.45 ms, bind mount + lo up + setns back 0.1 ms, creating the mount
  point file 0.02-0.08 ms, the claim (flock, leftover check, state file
  written by temp file + rename) 0.1-0.2 ms; teardown is the lazy unmount
  (0.17-0.25 ms), reading the state back (0.04-0.08 ms) and two unlinks.
  Reading the owner's start time from /proc/<pid>/stat cost another
  0.06-0.14 ms per Setup until the package cached its own process's.
- Plain libcni execs the loopback plugin, a Go binary, for ADD and again
  for DEL; bringing lo up with one ioctl instead is what makes ours tens of
  times faster.
- With bridge + portmap both sides run the same plugin binaries (bridge,
  host-local, portmap, which itself runs iptables several times); those
  execs are most of the time, and their spread is the machine's (on a
  loaded machine a few runs swing it by tens of percent either way). Ours
  adds a flock, two state writes and a host port probe, each well under a
  millisecond, and the isolation plain libcni does not have: the app's
  bridge port made isolated and its firewall loaded inside its namespace
  (iptables-restore for IPv4 and IPv6 at once, about 30 ms). That is why
  ours is ready later; its teardown costs nothing more (the rules go with
  the namespace).
- \`wasmrun os\` vs \`wasmrun run\`: the difference between the two
  \`os\` rows is the namespace (about a millisecond, lost in the noise of
  a process start); the difference between \`os\` with isolation = false
  and \`run\` is the OCI machinery: the guest runs in a second process,
  wasmrun-init (a Go runtime of its own, smaller than wasmrun's, that
  loads the module again), plus the state and bundle files, the GC of
  leftovers at start and the teardown at exit. Timed once step by step
  (wall clock marks in both processes, medians, unloaded machine): the
  front end's bundle, state and spawn about 2 ms; wasmrun-init from exec
  to main 1.5-1.7 ms; loading the module from the cache 0.6 ms (as in
  \`run\`); becoming the spec's user without capabilities 0.3-0.8 ms
  (each change of ids, capabilities, no_new_privs and the parent death
  signal is a round of signals to every thread of the process; the
  bounding set, 0.9 ms of such rounds before, now comes from the thread
  that forks it); delete and bundle removal at exit about 1 ms. No one
  step is the gap, and two processes (one to run the guest confined, one
  to clean up after it whatever happens) are the design, so the aim of
  1.3x is not met.
- Outbound by default costs next to nothing at start: the app gets a
  socket pair to its creator, which makes host sockets on request; there is
  no bridge, no CNI ADD (60-170 ms) and no rule to load. What it adds is a
  snapshot of the addresses apps may not reach (0.13 ms, a netlink dump
  per interface) and the socket pair (0.01 ms), timed with Go benchmarks;
  an own namespace with outbound is about a millisecond over
  \`isolation = false\`. The aim for \`wasmrun os\` without
  forwards, within 1.3x of \`wasmrun run\`, is not met, and not because of
  the network: \`isolation = false\` is nearly as far off (above).
- Outbound bulk TCP goes through the kernel's own TCP in the host's
  namespace, so a guest of \`os\` downloads at the speed of the same guest
  under \`run\` (the host's network), or close: the socket comes
  connected by its creator, held to its peer by a socket filter (a short
  classic BPF program run on each packet received). Over several runs
  \`os\` landed level with \`run\` to 12% below it, as it did before the
  filter. The C guest stays within 10% of the native C client (the
  aim), under \`os\` as under \`run\`: the way out costs nothing a guest
  would see. The Go guest lands between 0.75x and 0.97x of the native Go
  client from run to run on this 2-CPU machine, under \`run\` as under
  \`os\`: what separates it from native is Go's wasip1 runtime around each
  of its 32768 reads (about 0.7 µs each), not the network path.
- Outbound UDP pays for its relay: each datagram crosses the \`wasmrun os\`
  process, which checks where it goes, so a round trip takes about twice
  as long as the same guest's under \`run\` (60 µs more on this machine).
  That is what keeps a container process that escaped the sandbox from
  sending datagrams to the host's own services; name lookups, the usual
  UDP of an app, do not notice it.

Last run ($(date -u +%Y-%m-%d), $machine).

Produced by:

    make bench          # or: sudo bench/isolation.sh   (LOOPBACK=$LOOPBACK LOOPBACK_PLAIN=$LOOPBACK_PLAIN BRIDGE=$BRIDGE RUNS=$RUNS WARMUP=$WARMUP BULK=$BULK BULK_MB=$BULK_MB UDP_RUNS=$UDP_RUNS UDP_TRIPS=$UDP_TRIPS)
MD
echo "bench/isolation: tables written to bench/isolation.md" >&2
