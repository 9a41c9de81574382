#!/bin/sh
# Installs what the Windows tests (test/integration/wine_test.go) need:
# Debian's wine64, which runs wasmrun built for windows/amd64, and the
# MinGW-w64 C compiler, which builds the one DLL Wine 8.0 lacks for Go
# programs (test/integration/testdata/wine). Idempotent.
set -eu

missing=""
for p in wine64 gcc-mingw-w64-x86-64; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-wine: missing packages:$missing; run as root or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "install-wine: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
