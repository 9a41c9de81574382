#!/bin/sh
# Installs the system packages wasmrun's build, tests and demo need on
# Debian 12. Idempotent: does nothing when everything is present.
set -eu

# Guest toolchains (C: clang-14 + wasi-libc, Rust: Debian rustc + wasm32
# std), wabt for hand-written modules, iproute2 and Debian's CNI plugins for
# the isolation tests (iptables loads the firewall inside each namespace on
# a bridge), curl for the demo.
PACKAGES="clang-14 lld-14 llvm-14 wasi-libc libclang-rt-14-dev-wasm32 rustc libstd-rust-dev-wasm32 wabt iproute2 iptables containernetworking-plugins curl ca-certificates"
# Packages named as arguments are installed instead (make test-deps: Wine
# and MinGW for the Windows tests, test/integration/wine_test.go).
if [ $# -gt 0 ]; then
	PACKAGES="$*"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing; run as root or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
