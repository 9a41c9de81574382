#!/bin/sh
# Installs the containerd daemons the shim's integration tests run:
#   - Debian's containerd 1.6.20 and runc (apt): /usr/bin/containerd, /usr/bin/ctr
#   - containerd 2.4.2, ctr and containerd-shim-runc-v2 built from the Go
#     module proxy into $(go env GOPATH)/wasmrun-tools/containerd-2.4.2
#     (the tests look there; WASMRUN_CONTAINERD2_DIR overrides it).
#   - crictl v1.37.0 into $(go env GOPATH)/wasmrun-tools/crictl-1.37.0
#     (WASMRUN_CRICTL_DIR overrides it) and nerdctl v2.2.1 into
#     $(go env GOPATH)/wasmrun-tools/nerdctl-2.2.1 (WASMRUN_NERDCTL_DIR).
#   - busybox-static (the CRI tests' sandbox image is its `sleep`),
#     iptables and the CNI plugins (/usr/lib/cni) from apt.
# Idempotent: skips what is present. No daemon is started.
set -eu

CONTAINERD2_VERSION=v2.4.2
GO=${GO:-go}
TOOLS=${WASMRUN_CONTAINERD2_DIR:-$($GO env GOPATH)/wasmrun-tools/containerd-${CONTAINERD2_VERSION#v}}

missing=""
for p in containerd runc busybox-static containernetworking-plugins iptables; do
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

TOOLS_ROOT=$($GO env GOPATH)/wasmrun-tools

CRICTL_VERSION=v1.37.0
CRICTL_DIR=${WASMRUN_CRICTL_DIR:-$TOOLS_ROOT/crictl-${CRICTL_VERSION#v}}
if [ ! -x "$CRICTL_DIR/crictl" ]; then
	echo "install-containerd: go install crictl@$CRICTL_VERSION into $CRICTL_DIR"
	mkdir -p "$CRICTL_DIR"
	(cd / && GOBIN="$CRICTL_DIR.tmp" GOFLAGS= $GO install "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION")
	mv "$CRICTL_DIR.tmp/crictl" "$CRICTL_DIR/crictl"
	rmdir "$CRICTL_DIR.tmp" 2>/dev/null || true
fi

# nerdctl does not build with a plain `go install` from the module proxy
# (a replace directive points at mod/tigron, missing from the module zip):
# download the module, drop the test helpers that need tigron, stub its
# go.mod, build.
NERDCTL_VERSION=v2.2.1
NERDCTL_DIR=${WASMRUN_NERDCTL_DIR:-$TOOLS_ROOT/nerdctl-${NERDCTL_VERSION#v}}
if [ ! -x "$NERDCTL_DIR/nerdctl" ]; then
	echo "install-containerd: building nerdctl $NERDCTL_VERSION into $NERDCTL_DIR"
	src=$(cd / && GOFLAGS= $GO mod download -json "github.com/containerd/nerdctl/v2@$NERDCTL_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$src" ] || [ ! -d "$src" ]; then
		echo "install-containerd: go mod download nerdctl $NERDCTL_VERSION failed" >&2
		exit 1
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	cp -r "$src/." "$work/"
	chmod -R u+w "$work"
	rm -f "$work"/cmd/nerdctl/helpers/testing*.go
	mkdir -p "$work/mod/tigron"
	printf 'module github.com/containerd/nerdctl/mod/tigron\n\ngo 1.24\n' >"$work/mod/tigron/go.mod"
	mkdir -p "$NERDCTL_DIR"
	(cd "$work" && GOFLAGS=-mod=mod GOWORK=off $GO build -o "$NERDCTL_DIR/nerdctl.tmp" ./cmd/nerdctl)
	mv "$NERDCTL_DIR/nerdctl.tmp" "$NERDCTL_DIR/nerdctl"
	rm -rf "$work"
	trap - EXIT
fi
