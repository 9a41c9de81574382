#!/bin/sh
# install.sh puts the wasmrun containerd shim, its server (wasmrun-shim)
# and its container process program (wasmrun-init), which the shim starts
# from its own directory, on a node and registers the
# runtime handler "wasmrun" (runtime_type io.containerd.wasmrun.v1) in
# containerd's config. Idempotent: running it again changes nothing.
#
#   install.sh [--shim PATH] [--server PATH] [--init PATH] [--bin-dir DIR] [--config FILE] [--host-root DIR] [--restart]
#
#   --shim PATH      the shim binary (default: containerd-shim-wasmrun-v1 next
#                    to this script, else on PATH)
#   --server PATH    the shim server program (default: wasmrun-shim next to
#                    the shim binary)
#   --init PATH      the container process program (default: wasmrun-init
#                    next to the shim binary)
#   --bin-dir DIR    where containerd finds it on its PATH (default /usr/local/bin)
#   --config FILE    containerd's config (default /etc/containerd/config.toml)
#   --host-root DIR  prefix for --bin-dir and --config: the node's / as
#                    mounted into an installer pod (default: none)
#   --restart        restart containerd afterwards if the config changed
#                    (systemctl, through nsenter into PID 1 with --host-root)
#
# The config version decides the snippet: "version = 3" (containerd 2.x)
# gets [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.wasmrun],
# "version = 2" (1.6/1.7; 2.x migrates it) gets
# [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmrun]. A
# missing config is created for the installed containerd's major version.
# Exit status 0; it prints whether containerd must be restarted.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shim=""
server=""
init=""
bin_dir=/usr/local/bin
config=/etc/containerd/config.toml
host_root=""
restart=false
while [ $# -gt 0 ]; do
	case "$1" in
	--shim) shim=$2; shift 2 ;;
	--server) server=$2; shift 2 ;;
	--init) init=$2; shift 2 ;;
	--bin-dir) bin_dir=$2; shift 2 ;;
	--config) config=$2; shift 2 ;;
	--host-root) host_root=${2%/}; shift 2 ;;
	--restart) restart=true; shift ;;
	-h | --help) sed -n '2,28p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

if [ -z "$shim" ]; then
	if [ -x "$here/containerd-shim-wasmrun-v1" ]; then
		shim=$here/containerd-shim-wasmrun-v1
	else
		shim=$(command -v containerd-shim-wasmrun-v1 || true)
	fi
fi
if [ -z "$shim" ] || [ ! -f "$shim" ]; then
	echo "install.sh: shim binary not found; pass --shim PATH (build it with: CGO_ENABLED=0 go build ./cmd/containerd-shim-wasmrun-v1)" >&2
	exit 1
fi

if [ -z "$server" ]; then
	server=$(dirname "$shim")/wasmrun-shim
fi
if [ ! -f "$server" ]; then
	echo "install.sh: $server not found: the shim needs its server program next to it; pass --server PATH (build it with: CGO_ENABLED=0 go build ./cmd/wasmrun-shim)" >&2
	exit 1
fi

if [ -z "$init" ]; then
	init=$(dirname "$shim")/wasmrun-init
fi
if [ ! -f "$init" ]; then
	echo "install.sh: $init not found: the shim needs the container process program next to it; pass --init PATH (build it with: CGO_ENABLED=0 go build ./cmd/wasmrun-init)" >&2
	exit 1
fi

dest_dir=$host_root$bin_dir
cfg=$host_root$config
changed=false

# install SRC NAME copies a binary into dest_dir, atomically (a running
# process keeps its old inode).
install_bin() {
	dest=$dest_dir/$2
	if [ ! -f "$dest" ] || ! cmp -s "$1" "$dest"; then
		cp "$1" "$dest.new"
		chmod 0755 "$dest.new"
		mv -f "$dest.new" "$dest"
		echo "install.sh: installed $bin_dir/$2"
	else
		echo "install.sh: $bin_dir/$2 is up to date"
	fi
}

# The programs the shim starts first: a new shim always finds them.
mkdir -p "$dest_dir"
install_bin "$init" wasmrun-init
install_bin "$server" wasmrun-shim
install_bin "$shim" containerd-shim-wasmrun-v1

# The config version: the file's, else the installed containerd's.
version=""
if [ -f "$cfg" ]; then
	version=$(sed -n 's/^[[:space:]]*version[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$cfg" | head -n 1)
fi
if [ -z "$version" ]; then
	ctd=""
	for c in "$host_root/usr/local/bin/containerd" "$host_root/usr/bin/containerd" "$(command -v containerd || true)"; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			ctd=$c
			break
		fi
	done
	case "$( ([ -n "$ctd" ] && "$ctd" --version 2>/dev/null) || true)" in
	*" v2."* | *" 2."*) version=3 ;;
	*) version=2 ;;
	esac
	if [ -f "$cfg" ] && [ -s "$cfg" ]; then
		# A config without a version line is version 1 to containerd 1.x.
		if [ "$version" = 2 ]; then
			echo "install.sh: $config has no 'version = 2' line (containerd reads it as version 1); add 'version = 2' at the top first" >&2
			exit 1
		fi
	fi
fi

case "$version" in
3)
	header="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.wasmrun]"
	pattern='io\.containerd\.cri\.v1\.runtime.\.containerd\.runtimes\.wasmrun\]'
	;;
2)
	header='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmrun]'
	pattern='io\.containerd\.grpc\.v1\.cri.\.containerd\.runtimes\.wasmrun\]'
	;;
*)
	echo "install.sh: $config is config version $version; only 2 (containerd 1.6/1.7) and 3 (2.x) are supported" >&2
	exit 1
	;;
esac

mkdir -p "$(dirname "$cfg")"
if [ -f "$cfg" ] && grep -q "$pattern" "$cfg"; then
	echo "install.sh: $config already has the wasmrun runtime (config version $version)"
else
	{
		if [ ! -s "$cfg" ]; then
			echo "version = $version"
		fi
		echo ""
		echo "# Added by wasmrun's deploy/install.sh: runtime handler \"wasmrun\"."
		echo "$header"
		echo "  runtime_type = \"io.containerd.wasmrun.v1\""
		# containerd 1.6/1.7 replace their default runtimes with the ones
		# the config names: without runc, CRI refuses to load
		# (default_runtime_name = "runc" has no runtime).
		if [ "$version" = 2 ] && ! grep -q 'containerd\.runtimes\.runc\]' "$cfg" 2>/dev/null; then
			echo ""
			echo '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
			echo '  runtime_type = "io.containerd.runc.v2"'
		fi
	} >>"$cfg"
	changed=true
	echo "install.sh: added the wasmrun runtime to $config (config version $version)"
fi

if [ "$changed" = true ]; then
	if [ "$restart" = true ]; then
		if [ -n "$host_root" ]; then
			nsenter -t 1 -m -u -i -n -p -- systemctl restart containerd
		else
			systemctl restart containerd
		fi
		echo "install.sh: restarted containerd"
	else
		echo "install.sh: restart containerd to load the new runtime: systemctl restart containerd"
	fi
fi
