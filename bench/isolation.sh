#!/usr/bin/env bash
# Isolation benchmark (make bench): what network isolation costs.
#   1. time to a ready namespace with loopback, and with bridge + portmap
#      (one forward), through our cni package vs plain libcni running the
#      same plugins on a namespace made the plain way (bench/isolation, cni
#      mode: interleaved runs, medians);
#   2. start-to-exit of `wasmrun os hello.wasm` (own namespace) vs
#      `wasmrun os` with isolation = false vs `wasmrun run hello.wasm`, warm
#      compile cache (bench/isolation, start mode: round-robin runs).
# Prints the tables with ratios and writes them into bench/isolation.md.
# Timings are reported, never asserted. Needs root (namespaces, a bridge,
# iptables rules); everything it makes is private and removed at the end:
# bridge wrbench0 on 10.237.0.0/24, namespaces wrb<random>-* and
# wrbos-<pid>-*, state and caches under a temp dir.
#
#   bench/isolation.sh     # LOOPBACK=300 LOOPBACK_PLAIN=30 BRIDGE=10 RUNS=30 WARMUP=3
set -euo pipefail

cd "$(dirname "$0")/.."
LOOPBACK=${LOOPBACK:-300}
LOOPBACK_PLAIN=${LOOPBACK_PLAIN:-30}
BRIDGE=${BRIDGE:-10}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
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
mkdir -p "$work/iso" "$work/noiso"
clang-14 --target=wasm32-wasi -O2 -o "$work/iso/hello.wasm" bench/hello.c
cp "$work/iso/hello.wasm" "$work/noiso/hello.wasm"
printf '[network]\nnamespace_prefix = "%s"\n' "$prefix" >"$work/iso/.wasmrun.toml"
printf '[network]\nisolation = false\n' >"$work/noiso/.wasmrun.toml"
export WASMRUN_STATE_DIR="$work/state"
cache="--cache-dir $work/cache"
os_iso="bin/wasmrun os $cache $work/iso/hello.wasm"
os_noiso="bin/wasmrun os $cache $work/noiso/hello.wasm"
run="bin/wasmrun run $cache $work/iso/hello.wasm"
# Each must print hello (and warms the cache).
for cmd in "$run" "$os_iso" "$os_noiso"; do
	out=$($cmd) || { echo "bench/isolation: $cmd failed" >&2; exit 1; }
	[ "$out" = hello ] || { echo "bench/isolation: $cmd printed '$out', want hello" >&2; exit 1; }
done

echo "bench/isolation: start-to-exit, $RUNS runs each, round-robin" >&2
ostable=$("$work/isolation" start -runs "$RUNS" -warmup "$WARMUP" \
	"wasmrun run hello.wasm" "$run" \
	"wasmrun os hello.wasm (isolation = false)" "$os_noiso" \
	"wasmrun os hello.wasm (namespace + loopback)" "$os_iso")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), $("$GO" version | cut -d' ' -f3), load average $load_before before, $load_after after (1, 5, 15 min)"
plugins=$(for d in /opt/cni/bin /usr/lib/cni; do [ -x "$d/bridge" ] && { echo "$d"; break; }; done)
echo
echo "$nstable"
echo
echo "$ostable"
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
namespace and loopback (the default).

$ostable

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
  execs are nearly all of the time, so the ratio should be close to 1 and
  its spread is the machine's (on a loaded machine a few runs swing it by
  tens of percent either way). Ours adds a flock, two state writes and a
  host port probe, each well under a millisecond.
- \`wasmrun os\` vs \`wasmrun run\`: the difference between the two
  \`os\` rows is the namespace (about a millisecond, lost in the noise of
  a process start); the difference between \`os\` with isolation = false
  and \`run\` is the OCI machinery: the guest runs in a second wasmrun
  process (\`__wasmrun_container_init\`, a fresh Go runtime that loads
  the module again), plus the state and bundle files and the GC of
  leftovers at start. That second process, not the isolation, is what
  \`os\` costs over \`run\`.

Last run ($(date -u +%Y-%m-%d), $machine).

Produced by:

    make bench          # or: sudo bench/isolation.sh   (LOOPBACK=$LOOPBACK LOOPBACK_PLAIN=$LOOPBACK_PLAIN BRIDGE=$BRIDGE RUNS=$RUNS WARMUP=$WARMUP)
MD
echo "bench/isolation: tables written to bench/isolation.md" >&2
