#!/bin/bash
# Builds wasmrun's language runtimes (WASI modules) into the runtime
# directory: bin/runtimes by default, or $WASMRUN_RUNTIME_DIR, or --out DIR.
#
#   scripts/build-runtimes.sh [--out DIR] [--precompile WASMRUN] [nodejs] [python]
#                                                         (default: all)
#
# Each runtime is rebuilt only when its sources changed: a hash of its
# inputs (and the toolchain version) is stored next to the module as
# NAME.wasm.hash. Sources come from package registries only (the Go module
# proxy for nodejs). See runtimes/README.md.
#
# --precompile WASMRUN then runs `WASMRUN compile` on each runtime (built or
# up to date): its machine code goes into the compiled-module cache that
# `wasmrun run` and `wasmrun os` use by default ($WASMRUN_CACHE_DIR, else
# ~/.cache/wasmrun of the user running this), so that the first start of
# an app on it is a warm one. `make runtimes` does this with bin/wasmrun.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${WASMRUN_RUNTIME_DIR:-$root/bin/runtimes}"
targets=()
precompile=""
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out="$2"; shift 2 ;;
	--out=*) out="${1#--out=}"; shift ;;
	--precompile) precompile="$2"; shift 2 ;;
	--precompile=*) precompile="${1#--precompile=}"; shift ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(nodejs python)
mkdir -p "$out"

# up_to_date NAME HASH: the module exists and was built from HASH.
up_to_date() {
	[ -f "$out/$1.wasm" ] && [ -f "$out/$1.wasm.hash" ] && [ "$(cat "$out/$1.wasm.hash")" = "$2" ]
}

# install NAME FILE HASH: move FILE into place atomically with its hash.
install_module() {
	mv -f "$2" "$out/$1.wasm"
	echo "$3" > "$out/$1.wasm.hash"
	echo "build-runtimes: $1 -> $out/$1.wasm ($(du -h "$out/$1.wasm" | cut -f1))"
}

# nodejs: a Go (GOOS=wasip1) program embedding goja; runtimes/nodejs.
build_nodejs() {
	local src="$root/runtimes/nodejs" hash tmp
	hash="$( (go version; cd "$src" && find . -type f \( -name '*.go' -o -name '*.js' -o -name go.mod -o -name go.sum \) \
		-not -name '*_test.go' | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1)"
	if up_to_date nodejs "$hash"; then
		echo "build-runtimes: nodejs up to date ($out/nodejs.wasm)"
		return
	fi
	echo "build-runtimes: building nodejs (Go wasip1 + goja; about a minute)"
	tmp="$(mktemp "$out/.nodejs.XXXXXX")"
	(cd "$src" && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly \
		go build -trimpath -tags getaddrinfo -ldflags='-s -w' -o "$tmp" .) || { rm -f "$tmp"; return 1; }
	install_module nodejs "$tmp" "$hash"
}

# python: CPython for WASI; runtimes/python (see its section in
# runtimes/README.md).
build_python() {
	if [ -x "$root/runtimes/python/build.sh" ]; then
		"$root/runtimes/python/build.sh" "$out"
	else
		echo "build-runtimes: python: no runtimes/python/build.sh yet, skipped" >&2
	fi
}

# precompile NAME: compile the runtime's module into the default cache
# with $precompile (a wasmrun binary).
precompile_runtime() {
	local mod
	for mod in "$out/$1.wasm" "$out/$1/$1.wasm"; do
		[ -f "$mod" ] || continue
		"$precompile" compile "$mod" | sed 's/^/build-runtimes: /' # fails with it (pipefail)
		return
	done
	echo "build-runtimes: $1: no module to precompile in $out" >&2
}

if [ -n "$precompile" ] && [ ! -x "$precompile" ]; then
	echo "build-runtimes: --precompile $precompile: not an executable (build it: make build)" >&2
	exit 2
fi
for t in "${targets[@]}"; do
	case "$t" in
	nodejs) build_nodejs ;;
	python) build_python ;;
	*) echo "build-runtimes: unknown runtime '$t' (known: nodejs python)" >&2; exit 2 ;;
	esac
	if [ -n "$precompile" ]; then
		precompile_runtime "$t"
	fi
done
