#!/bin/bash
# make demo: builds the example HTTP server guest, runs two isolated copies
# that both listen on guest port 3000, forwarded to the host's 8080 and
# 8081, shows them answering, then stops both and shows nothing is left.
set -euo pipefail
cd "$(dirname "$0")/.."

WASMRUN=${WASMRUN:-bin/wasmrun}
PORT_A=${DEMO_PORT_A:-8080}
PORT_B=${DEMO_PORT_B:-8081}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: network namespaces need root; run: sudo make demo" >&2
	exit 1
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building examples/http-server (Go, GOOS=wasip1, github.com/stealthrocket/net)"
(cd examples/http-server && GOOS=wasip1 GOARCH=wasm go build -o http-server.wasm .)
ls -l examples/http-server/http-server.wasm

pids=()
cleanup() {
	for name in demo-a demo-b; do "$WASMRUN" stop "$name" >/dev/null 2>&1 || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# wait_http PORT: waits (up to 60 s: the first start compiles the module)
# until the app answers on 127.0.0.1:PORT, then prints its answer.
wait_http() {
	for _ in $(seq 1 240); do
		if out=$(curl -s -m 2 "http://127.0.0.1:$1/"); then
			echo "\$ curl 127.0.0.1:$1"
			echo "$out"
			return 0
		fi
		sleep 0.25
	done
	echo "demo: nothing answered on 127.0.0.1:$1" >&2
	return 1
}

say "wasmrun os examples/http-server --forward $PORT_A:3000 --name demo-a --verbose"
"$WASMRUN" os examples/http-server --forward "$PORT_A:3000" --name demo-a --env APP_NAME=demo-a --verbose &
pids+=($!)
wait_http "$PORT_A"

say "a second copy on the same guest port, forwarded to $PORT_B"
"$WASMRUN" os examples/http-server --forward "$PORT_B:3000" --name demo-b --env APP_NAME=demo-b &
pids+=($!)
wait_http "$PORT_B"

say "wasmrun ps"
"$WASMRUN" ps
say "ip netns list (one namespace per app)"
ip netns list | grep -E '^wasmrun-demo-' || true

say "wasmrun stop demo-a demo-b"
"$WASMRUN" stop demo-a demo-b
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()

say "after stop: no namespace, no app left"
left=$(ip netns list | grep -cE '^wasmrun-demo-' || true)
echo "namespaces left: $left"
# The bridge goes with the last namespace on it (other apps may still hold it).
if ip link show wasmrun0 >/dev/null 2>&1; then echo "bridge wasmrun0: still there (other apps use it)"; else echo "bridge wasmrun0: removed"; fi
"$WASMRUN" ps
[ "$left" -eq 0 ]
say "demo done"
