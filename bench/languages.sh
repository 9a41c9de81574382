#!/usr/bin/env bash
# Language runtime benchmark (issue 7): an HTTP hello app in JavaScript
# (bench/languages/server.js) and in Python (bench/languages/server.py), each
# run unmodified on the host's native interpreter (node, /usr/bin/python3)
# and on wasmrun's runtime for it (bin/runtimes/nodejs.wasm,
# bin/runtimes/python, `wasmrun run` on the host network, as the
# integration tests run them), in the same run:
#
#   - req/s: a native load client (bench/languages, Go) on 127.0.0.1 for
#     DURATION (after an unmeasured WARMUP) over CONNS connections, best of
#     REPS runs, native and wasmrun alternating (the machine's other load
#     only ever slows a run down):
#     keep-alive HTTP/1.1 for node, one HTTP/1.0 request per connection for
#     python (http.server closes after each answer; the same on both
#     sides);
#   - first start: launch until the first answered request, with an empty
#     private compile cache (the module is compiled); once per runtime;
#   - warm start: the same with that cache populated (median of STARTS);
#     the native interpreters' start is measured the same way, for reference.
#
# Prints a table with ratios (wasmrun / native) and writes it into
# bench/languages.md. Numbers are reported, never asserted.
#
#   bench/languages.sh      # DURATION=5s WARMUP=1s CONNS=16 STARTS=3 REPS=2 by default
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-16}
STARTS=${STARTS:-3}
REPS=${REPS:-2}
GO=${GO:-go}
NODE=${NODE:-node}
PYTHON=${PYTHON:-/usr/bin/python3}
RUNTIMES=${WASMRUN_RUNTIME_DIR:-bin/runtimes}

need() { command -v "$1" >/dev/null 2>&1; }
for t in "$NODE" "$PYTHON"; do
	need "$t" || { echo "bench/languages: $t is missing (the native side of the comparison)" >&2; exit 1; }
done

scripts/build-runtimes.sh --out "$RUNTIMES" nodejs python >&2
make --no-print-directory build >/dev/null

work=$(mktemp -d /tmp/wasmrun-langbench.XXXXXX)
pidfile="$work/server.pid"
cleanup() {
	# bench/languages kills the server it started, also on error and on
	# SIGINT/SIGTERM; this catches a driver that was killed itself.
	if [ -s "$pidfile" ]; then
		kill -9 "$(cat "$pidfile")" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$GO" build -o "$work/languages" ./bench/languages
mkdir -p "$work/app"
cp bench/languages/server.js bench/languages/server.py "$work/app/"
rt=$(cd "$RUNTIMES" && pwd)
app="$work/app"

# serve NAME CACHE|- LOADFLAGS... : run NAME's server once (a fresh port)
# and print "START_MS [REQ_PER_S]".
serve() {
	local name=$1 cache=$2
	shift 2
	local port
	port=$("$work/languages" port)
	local cmd
	case $name in
	native-nodejs) cmd=("$NODE" "$app/server.js") ;;
	native-python) cmd=("$PYTHON" "$app/server.py") ;;
	wasmrun-nodejs) cmd=(bin/wasmrun run --cache-dir "$cache" --dir "$app:/app" --env "PORT=$port"
		"$rt/nodejs.wasm" -- /app/server.js) ;;
	wasmrun-python) cmd=(bin/wasmrun run --cache-dir "$cache" --dir "$rt:/" --dir "$app:/app"
		--env PYTHONHOME=/python --env "PORT=$port" "$rt/python/python.wasm" -- /app/server.py) ;;
	esac
	local rc=0
	PORT=$port "$work/languages" run -pidfile "$pidfile" "$@" "127.0.0.1:$port" -- "${cmd[@]}" || rc=$?
	rm -f "$pidfile"
	return "$rc"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# starts NAME CACHE: median of STARTS start times (ms).
starts() {
	for _ in $(seq "$STARTS"); do
		serve "$1" "$2" | cut -d' ' -f1
	done | median
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A res
for lang in nodejs python; do
	flags=(-warmup "$WARMUP" -load "$DURATION" -conns "$CONNS")
	[ "$lang" = python ] && flags+=(-close)
	cache="$work/cache-$lang"
	echo "bench/languages: $lang: first start under wasmrun (compiles the module)" >&2
	res[first-$lang]=$(serve "wasmrun-$lang" "$cache")
	echo "bench/languages: $lang: warm starts ($STARTS each, native and wasmrun)" >&2
	res[start-native-$lang]=$(starts "native-$lang" -)
	res[start-wasmrun-$lang]=$(starts "wasmrun-$lang" "$cache")
	echo "bench/languages: $lang: req/s for $DURATION over $CONNS connections, best of $REPS (native and wasmrun alternating)" >&2
	res[rps-native-$lang]=0
	res[rps-wasmrun-$lang]=0
	for _ in $(seq "$REPS"); do
		for side in native wasmrun; do
			r=$(serve "$side-$lang" "$cache" "${flags[@]}" | cut -d' ' -f2)
			if [ "$r" -gt "${res[rps-$side-$lang]}" ]; then
				res[rps-$side-$lang]=$r
			fi
		done
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf (b > 0 ? "%.2f" : "-"), a / b}'; }
row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(ratio "$3" "$2")"; }
table=$(
	echo "| | native | wasmrun | ratio (wasmrun / native) |"
	echo "|---|---:|---:|---:|"
	row "nodejs req/s (keep-alive)" "${res[rps-native-nodejs]}" "${res[rps-wasmrun-nodejs]}"
	row "python req/s (HTTP/1.0)" "${res[rps-native-python]}" "${res[rps-wasmrun-python]}"
	row "nodejs first start, ms" "${res[start-native-nodejs]}" "${res[first-nodejs]}"
	row "nodejs warm start, ms" "${res[start-native-nodejs]}" "${res[start-wasmrun-nodejs]}"
	row "python first start, ms" "${res[start-native-python]}" "${res[first-python]}"
	row "python warm start, ms" "${res[start-native-python]}" "${res[start-wasmrun-python]}"
)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) CPUs${cpu:+ ($cpu)}, Linux $(uname -r), load average $load_before before, $load_after after (1, 5, 15 min)"
versions="native: node $("$NODE" --version), $("$PYTHON" --version 2>&1) ($PYTHON); wasmrun: nodejs.wasm $(du -m "$rt/nodejs.wasm" | cut -f1) MB (goja), python.wasm $(du -m "$rt/python/python.wasm" | cut -f1) MB (CPython $(ls "$rt/python/lib" 2>/dev/null | sed -n 's/^python3\([0-9]*\)\.zip$/3.\1/p' | head -1))"
echo
echo "$table"
echo
echo "$machine"
echo "$versions"

cat >bench/languages.md <<MD
# Language runtime benchmark

\`bench/languages.sh\` runs an HTTP hello app in JavaScript
([server.js](languages/server.js)) and in Python
([server.py](languages/server.py)), unmodified, on the host's native
interpreters and on wasmrun's runtimes (\`wasmrun run\`, host network, the
app directory mounted at /app, as the integration tests run them), in the
same run. Ratios are reported, never asserted.

- **req/s**: a native Go load client ([languages](languages/)) on
  127.0.0.1 for $DURATION (after $WARMUP of unmeasured load) over $CONNS
  connections: HTTP/1.1 keep-alive against the node app; one HTTP/1.0
  request per connection against the python app (a single-threaded
  \`http.server\`: the WASI build has no threads, and it closes after each
  answer, on both sides). Best of $REPS runs, each on a
  freshly started server, native and wasmrun alternating (the machine's
  other load only ever slows a run down).
- **first start**: from launch until the app answers its first request,
  with an empty private compile cache (\`--cache-dir\` a fresh directory), so
  wasmrun compiles the module: one run.
- **warm start**: the same with that cache populated, median of $STARTS. The
  native column of both start rows is the native interpreter's start to
  its first answer (median of $STARTS), for reference.

$table

$versions.

Last run ($(date -u +%Y-%m-%d), $machine).

## Reading it

- **nodejs req/s**: the two sides run different engines. Native is node's
  V8 (a JIT) on libuv; wasmrun's runtime is goja, a JavaScript
  *interpreter* written in Go, built for wasip1 and compiled ahead of time
  by wazero, with its own HTTP/1.1 in Go under \`http.createServer\`.
  Expect an order of magnitude or more between them. The sockets are not
  the main cost: bench/sockets.md measures Go's net/http hello as a
  wasip1 guest at about a tenth of native, a ceiling for this runtime.
  Above it, every request runs the JavaScript handler in goja and crosses
  between Go and JavaScript (request, response and event objects).
- **python req/s**: both sides run the same interpreter (CPython 3.11)
  and the same single-threaded \`http.server\`. The gap is CPython built
  as wasm and compiled by wazero, against Debian's native build (with
  PGO and LTO). On top of that, each connection makes a handful of host
  calls (accept, poll, recv, send, shutdown, close) through the socket
  extension. One request per connection makes this a test of connection
  handling as much as of HTTP.
- **first start**: wasmrun compiles the whole module before it runs,
  and the cost grows with its size: the 22 MB nodejs.wasm (the Go
  runtime, goja and the embedded Node library) takes about five seconds
  on an idle 2-CPU machine (far more on a busy one), the 7 MB python.wasm
  one or two. This is paid once per module and cache directory (the
  cache is keyed by the module's hash), and \`make runtimes\` pays it
  ahead of time for the default cache (\`wasmrun compile\`), so that users
  only ever see the warm start.
- **warm start**: for nodejs, about 250 ms of CPU, measured with a CPU
  profile of the host and timestamps in the guest: wazero decodes the
  22 MB module and validates every function body again (about half of
  it: the cache holds machine code, not the checked module), hashes it
  to find the cache entry, and reads about 75 MB of machine code from the
  entry (one read per function offset, then the code, plus the page
  faults of mapping it): some 200 ms in all. Instantiating takes about
  10 ms; in the guest, the Go runtime and package inits 5 ms, goja's
  bootstrap of the Node globals 20 ms and \`require('http')\` 17 ms. The
  module's size is what the runtime controls: dropping Go's net/http
  (with TLS, x509 and HTTP/2) for an HTTP/1.1 of its own took nodejs.wasm
  from 30 to 22 MB and a warm start from 310 to 240 ms of CPU. Skipping
  the revalidation of cached modules and buffering the cache reads (a
  change to wazero, measured on a patched copy) would take it to about
  135 ms. For CPython: importing \`http.server\` and what it pulls in
  (socketserver, email, ...) from the zipped stdlib. The native column is
  the host interpreter's time to its first answer, for reference.
- **Noise**: the load client shares the machine's CPUs with the server.
  The runs are short ($DURATION per load, $STARTS starts), so that the whole
  script takes under about two minutes. On a busy machine (see the load
  average) other work slows both sides: from one run to the next, native
  python moved between about 1600 and 4300 req/s, and wasmrun's nodejs
  between 400 and 1900; the warm starts of nodejs between 270 and 1300
  ms at the same CPU cost. Read the ratios as orders of magnitude, not as
  exact figures. Longer runs on an idle machine (\`DURATION=20s REPS=3
  STARTS=5\`) give steadier numbers.

Produced by:

    bench/languages.sh      # DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS STARTS=$STARTS REPS=$REPS
MD
echo "bench/languages: table written to bench/languages.md" >&2
