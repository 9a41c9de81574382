#!/usr/bin/env bash
# Builds wasi-go's wasirun (github.com/stealthrocket/wasi-go v0.8.0 on wazero
# v1.12.0, pinned by bench/wasigo/tool/go.mod and go.sum) into bin/wasirun
# unless it is there: the reference runtime bench/sockets.sh and
# bench/wasigo.sh compare wasmrun with.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x bin/wasirun ]; then
	echo "bench: building wasi-go's wasirun into bin/ (bench/wasigo/tool)" >&2
	mkdir -p bin
	(cd bench/wasigo/tool && GOWORK=off "${GO:-go}" build -o ../../../bin/wasirun github.com/stealthrocket/wasi-go/cmd/wasirun)
fi
