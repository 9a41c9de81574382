#!/bin/sh
# Installs the containerd daemons the shim's integration tests run:
#   - Debian's containerd 1.6.20 and runc (apt): /usr/bin/containerd, /usr/bin/ctr
#   - containerd 2.4.2, ctr and containerd-shim-runc-v2 built from the Go
#     module proxy into $(go env GOPATH)/wasmrun-tools/containerd-2.4.2
#     (the tests look there; WASMRUN_CONTAINERD2_DIR overrides it).
# Idempotent: skips what is present. No daemon is started.
set -eu

CONTAINERD2_VERSION=v2.4.2
GO=${GO:-go}
TOOLS=${WASMRUN_CONTAINERD2_DIR:-$($GO env GOPATH)/wasmrun-tools/containerd-${CONTAINERD2_VERSION#v}}

missing=""
for p in containerd runc; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-containerd: missing packages:$missing; run as root or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "install-containerd: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

mkdir -p "$TOOLS"
for cmd in containerd ctr containerd-shim-runc-v2; do
	if [ -x "$TOOLS/$cmd" ]; then
		continue
	fi
	echo "install-containerd: go install $cmd@$CONTAINERD2_VERSION into $TOOLS"
	# One install per path; outside any module so our go.mod does not apply.
	(cd / && GOBIN="$TOOLS.tmp" GOFLAGS= $GO install "github.com/containerd/containerd/v2/cmd/$cmd@$CONTAINERD2_VERSION")
	mv "$TOOLS.tmp/$cmd" "$TOOLS/$cmd"
	rmdir "$TOOLS.tmp" 2>/dev/null || true
done
