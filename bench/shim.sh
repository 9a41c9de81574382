#!/usr/bin/env bash
# Shim benchmark (make bench): the containerd shim vs runc on one private
# containerd 2.4.2 (bench/shim, through internal/testdaemon):
#   1. `ctr run --rm` of the hello guest (warm compile cache) vs `ctr run
#      --rm` of busybox echo under runc, interleaved runs;
#   2. create-run-exit-delete tasks/s over TASKS containers (`ctr run --rm`,
#      CONC at a time) for each runtime;
#   3. VmRSS (and PSS) of the shim plus the task process of an idle C guest and an
#      idle Go guest (and an idle busybox under runc for reference).
# Prints the tables with ratios and writes them into bench/shim.md. Ratios
# are reported, never asserted. Needs root and containerd 2.4.2 from
# scripts/install-containerd.sh; the daemon, its containers, tasks and
# mounts and the temp dir are removed at the end, also on error.
#
#   bench/shim.sh     # RUNS=20 WARMUP=3 TASKS=200 CONC=4 IDLE_N=10
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
TASKS=${TASKS:-200}
CONC=${CONC:-4}
IDLE_N=${IDLE_N:-10}
GO=${GO:-go}

need() { command -v "$1" >/dev/null 2>&1; }

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/shim: needs root (containerd, runc, namespaces); run: sudo $0" >&2
	exit 1
fi
if ! need clang-14; then
	echo "bench/shim: clang-14 is missing (scripts/install-deps.sh installs it)" >&2
	exit 1
fi
ctrdir=${WASMRUN_CONTAINERD2_DIR:-$("$GO" env GOPATH)/wasmrun-tools/containerd-2.4.2}
if [ ! -x "$ctrdir/containerd" ] || [ ! -x "$ctrdir/containerd-shim-runc-v2" ]; then
	echo "bench/shim: containerd 2.4.2 is missing in $ctrdir (run scripts/install-containerd.sh)" >&2
	exit 1
fi
if ! need runc; then
	echo "bench/shim: runc is missing (apt-get install runc)" >&2
	exit 1
fi
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
	echo "bench/shim: installing busybox-static" >&2
	apt-get install -y -qq --no-install-recommends busybox-static >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends busybox-static >/dev/null; }
	busybox=/bin/busybox
fi

make --no-print-directory build >/dev/null

work=$(mktemp -d /tmp/wasmrun-shimbench.XXXXXX)
# The Go program stops the daemon and removes its containers, tasks, shims
# and mounts itself (also on error); this removes the rootfs dirs, caches
# and binaries.
trap 'rm -rf "$work"' EXIT

"$GO" build -o "$work/shimbench" ./bench/shim
mkdir -p "$work/busybox/bin" "$work/hello" "$work/idlec" "$work/idlego" "$work/cache"
cp "$busybox" "$work/busybox/bin/busybox"
clang-14 --target=wasm32-wasi -O2 -o "$work/hello/hello.wasm" bench/hello.c
clang-14 --target=wasm32-wasi -O2 -o "$work/idlec/idle.wasm" bench/shim/idlec/idle.c
GOOS=wasip1 GOARCH=wasm "$GO" build -o "$work/idlego/idle.wasm" ./bench/shim/idlego

note=""
if [ "$TASKS" -lt 200 ] || [ "$RUNS" -lt 20 ]; then
	note="- This run used fewer iterations than the spec's (20 latency runs, 200
  containers per runtime): RUNS=$RUNS, TASKS=$TASKS, to keep the benchmark
  within a few minutes on a loaded machine; rerun with the defaults for the
  full figures.
"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
tables=$("$work/shimbench" -shim-dir bin -cache-dir "$work/cache" \
	-busybox "$work/busybox" -hello "$work/hello" -idle-c "$work/idlec" -idle-go "$work/idlego" \
	-runs "$RUNS" -warmup "$WARMUP" -tasks "$TASKS" -conc "$CONC" -idle-n "$IDLE_N")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), $("$GO" version | cut -d' ' -f3), $(runc --version | head -1), load average $load_before before, $load_after after (1, 5, 15 min)"
echo
echo "$tables"
echo
echo "$machine"

cat >bench/shim.md <<MD
# Shim benchmark

\`bench/shim.sh\` (needs root) compares the wasmrun containerd shim
(\`containerd-shim-wasmrun-v1\`, runtime \`io.containerd.wasmrun.v1\`) with
runc (Debian's runc under containerd 2.4.2's \`containerd-shim-runc-v2\`),
on ONE private containerd 2.4.2 started by [bench/shim](shim/) through
internal/testdaemon (own root, state, sockets; CRI and NRI disabled). Every
container is started by \`ctr\` with ctr's default OCI spec for both
runtimes (so both get their own network, mount, pid, ipc and uts
namespaces; no \`--net-host\`), from a \`--rootfs\` directory (no image
unpack). Ratios are reported, never asserted in tests.

- **latency**: wall time around \`ctr run --rm ID /hello.wasm\`
  (--runtime io.containerd.wasmrun.v1; [hello.c](hello.c) built with
  clang-14 --target=wasm32-wasi -O2; the shim's compile cache
  (WASMRUN_CACHE_DIR) is warm) vs \`ctr run --rm ID /bin/busybox echo
  hello\` under runc (static busybox in a rootfs directory). $WARMUP warm-up runs
  each, then $RUNS runs each, round-robin with alternating order; every run
  must print hello. Medians with means in brackets.
- **throughput**: $TASKS containers per runtime, each one \`ctr run --rm\`
  (create, start, exit, delete), $CONC at a time, in batches of 20 that
  alternate between the runtimes (and which goes first) so the machine's
  load drifts equally over both; tasks/s = containers / summed wall time
  of that runtime's batches. Going through ctr, each container also pays
  a ctr process start.
- **idle memory**: \`ctr run -d\` of a guest that sleeps
  ([idlec/idle.c](shim/idlec/idle.c): wasi-libc \`sleep(3600)\`;
  [idlego](shim/idlego/main.go): GOOS=wasip1 \`time.Sleep(time.Hour)\`),
  wait until \`ctr task ls\` says RUNNING plus 0.5 s, then VmRSS from
  /proc/PID/status and Pss from /proc/PID/smaps_rollup of the shim (the
  daemon's process with \`-id ID\` on its command line) and of the task's
  pid; then \`ctr task rm -f\` and
  \`ctr container rm\`. An idle busybox sleep under runc is shown for
  reference. The last two rows run $IDLE_N such containers at once and
  give the mean per container: their shims (one process per container,
  as under ctr) share their binary's pages, and PSS splits each shared
  page between the processes mapping it, as on a node running many
  containers. Aim: idle C guest (shim + task) <= 15 MB.

$tables

## Reading it

${note}- Both columns pay the same ctr start, the same containerd round trips
  (create container, create task, start, wait, delete) and the same
  namespace creation; the difference is the shim and what it starts. runc:
  containerd runs containerd-shim-runc-v2 twice (start, delete) and its
  server, which execs runc create (which re-execs itself as runc init),
  runc start and runc delete. wasmrun: containerd runs
  containerd-shim-wasmrun-v1 twice (start, delete), a lean binary of ours
  without containerd's shim library (about 2 ms from exec to exit against
  6 ms for a shim built on it), which starts the shim server wasmrun-shim
  and answers the delete of a task removed completely from its bundle
  alone; the server starts wasmrun-init, a small binary of ours (no
  containerd, CNI or cgroup libraries), as the container's process in the
  namespaces of the spec; it loads the precompiled module from the cache
  and runs it. That process is the "task" column of the memory table: a
  small Go runtime plus the guest's linear memory (the Go guest's heap is
  the larger one).
- Aims (issue 12): latency <= 0.6x runc, tasks/s >= 2x runc, idle C guest
  (shim + task) <= 15 MB PSS. Through ctr, both runtimes share a large
  fixed cost (a ctr process, the gRPC round trips, a shim start, the
  namespaces), which caps the ratios a faster shim can show. Measured
  with perf over 30 sequential \`ctr run --rm\`, the CPU of one wasmrun
  container is about a third ctr and containerd's, a third the shim
  server's (its start-up, Create, Delete, page faults of its binary) and
  the rest wasmrun-init and the two lean actions.
- Memory: the shim server alone is about what runc's shim is (both are
  Go processes built on containerd's shim library); about 14 MB of its
  RSS are the pages of its own binary (text and read-only data), the
  rest its heap. Those pages are shared by every shim server on the
  node, as wasmrun-init's 5 MB of binary pages are by every container
  process: with one container, PSS equals RSS; with $IDLE_N at once, PSS
  splits them, and what one more container costs is the per-container
  PSS of those rows. An idle Go guest's task carries its own runtime's
  heap in linear memory and its larger compiled module (wasmrun-init
  returns the garbage of compiling or loading it to the system as the
  guest starts).
- The shim rows are one long-lived shim process per container (ctr does
  not group containers into one shim; CRI groups a pod's containers).
- Absolute times follow the machine's load (see the load averages; the
  "after" one includes the benchmark's own): the ratios of the interleaved
  latency runs are the more trustworthy figures (the tasks/s ratio swings by
  tens of percent from run to run on a loaded machine). runwasi's published figures for
  comparison: 223-318 ms per \`ctr run --rm\`, 15-67 MB RSS per container.

Last run ($(date -u +%Y-%m-%d), $machine).

Produced by:

    sudo bench/shim.sh     # RUNS=$RUNS WARMUP=$WARMUP TASKS=$TASKS CONC=$CONC IDLE_N=$IDLE_N
MD
echo "bench/shim: tables written to bench/shim.md" >&2
