#!/usr/bin/env bash
# Socket guests under wasmrun and under wasi-go (issue 3's reference): runs
# bench/wasigo (the C guest in each import shape, Rust std in the mixed
# shape, a Go stealthrocket/net HTTP server, a Unix socket bind outside the
# preopen) under both runtimes and writes what works where into
# bench/wasigo.md. Loopback and a private directory only. Fails if a guest
# fails under wasmrun.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
export GOWORK=off

bench/wasigo/build-wasirun.sh
make --no-print-directory build >/dev/null
work=$(mktemp -d /tmp/wasmrun-wasigo.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$GO" build -o "$work/wasigo" ./bench/wasigo
table=$("$work/wasigo" bin/wasmrun bin/wasirun)
echo "$table"

cat >bench/wasigo.md <<MD
# wasmrun and wasi-go

[wasi-go](https://github.com/stealthrocket/wasi-go) (v0.8.0, its \`wasirun\`
built against wazero v1.12.0 from [bench/wasigo/tool](wasigo/tool/go.mod)) is
the runtime github.com/stealthrocket/net was written for, and the reference
implementation of the WasmEdge socket extension on wazero. \`bench/wasigo.sh\`
(run by \`make bench\`) builds the socket guests of the test suite
(internal/guests/testdata) and runs each under both, driving it from the host
over loopback (or a Unix socket in a private directory), as
[bench/wasigo](wasigo/main.go) describes:

$table

What it shows:

- wasi-go picks one socket ABI for the whole module (\`--sockets auto\`
  detects V1 or V2) and refuses a module that mixes them, which is what the
  popular Rust crate (wasmedge_wasi_socket) produces: V1 \`sock_accept\` and
  \`sock_getlocaladdr\` with V2 \`sock_recv_from\`. wasmrun chooses the
  variant per function from each import's signature.
- wasi-go binds a Unix socket at any host path the guest names; wasmrun
  resolves the path inside the guest's preopens (openat2 RESOLVE_BENEATH on
  the directory, then the socket by its /proc/self/fd path), so a guest
  cannot create a socket file outside them.
- Speed: [sockets.md](sockets.md) has a wasi-go column for the same
  stealthrocket/net server.

Produced by:

    make bench          # or: bench/wasigo.sh
MD
echo "bench: table written to bench/wasigo.md" >&2
