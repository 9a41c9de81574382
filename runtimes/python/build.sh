#!/bin/bash
# Builds the Python runtime: CPython 3.11 from Debian bookworm's own source
# package, cross-compiled to WASI (wasm32-wasi, preview1 + the WasmEdge
# socket extension) with Debian's clang-14 and wasi-libc, linked with the
# socket library in wasisock/ and with zlib (also Debian's source). Called
# by scripts/build-runtimes.sh (python).
#
#   runtimes/python/build.sh [RUNTIME_DIR]
#
# Output (OUT = RUNTIME_DIR/python, default bin/runtimes/python):
#   python.wasm            the interpreter
#   lib/python311.zip      the pure-Python stdlib, uncompressed (ZIP_STORED)
#   lib/python3.11/lib-dynload/   empty; silences a startup warning
# Run it as `wasmrun os --language python` does: the runtime directory
# (bin/runtimes) as the guest's /, so the stdlib is /python/lib/python311.zip
# (the path compiled into the bytecode, shown in tracebacks):
#   wasmrun run --dir bin/runtimes:/ --dir APP:/app --env PYTHONHOME=/python \
#     bin/runtimes/python/python.wasm -- /app/main.py
#
# Cached: nothing is done when OUT/.stamp matches a hash of this directory
# and of the Debian source versions; the last build is kept in WORK/out and
# copied for another OUT. Work files live in WORK (default
# ~/.cache/wasmrun-build/python), never in the repository.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# The runtime directory (bin/runtimes) may come as the first argument.
if [ $# -gt 0 ]; then
	OUT=$1/python
fi
OUT=${OUT:-$ROOT/bin/runtimes/python}
WORK=${WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/wasmrun-build/python}
JOBS=${JOBS:-$(nproc)}
# Debian's python3.11 is the build Python (its version must match the
# source's); another python3.11 may come first on PATH, hence the full path.
BUILD_PYTHON=/usr/bin/python3.11
PACKAGES="clang-14 lld-14 llvm-14 wasi-libc libclang-rt-14-dev-wasm32 python3.11 dpkg-dev"

log() { echo "build-python: $*" >&2; }

# install_packages installs whatever of PACKAGES is missing.
install_packages() {
	local missing="" p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages:$missing; run as root or: sudo apt-get install$missing"
		exit 1
	fi
	log "installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# deb_src_lines prints a deb-src line for every deb source the machine's own
# apt configuration has (one-line .list files and deb822 .sources files).
deb_src_lines() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		case "$f" in */wasmrun-src.list) continue ;; esac
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# Stanzas are separated by blank lines; keep those whose Types has deb.
		awk '
			function flush() {
				if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris != "" && enabled != "no") {
					n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
					opt = (signed != "") ? "[signed-by=" signed "] " : ""
					for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
						if (u[i] != "" && s[j] != "") print "deb-src " opt u[i] " " s[j] " " comps
				}
				types = uris = suites = comps = signed = enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[ \t]+/, "")
				if (key == "types") types = $0
				else if (key == "uris") uris = $0
				else if (key == "suites") suites = $0
				else if (key == "components") comps = $0
				else if (key == "signed-by") signed = $0
				else if (key == "enabled") enabled = tolower($0)
			}
			END { flush() }
		' "$f"
	done
}

# ensure_deb_src adds /etc/apt/sources.list.d/wasmrun-src.list (deb-src
# mirrors of the deb lines) when apt has no source for python3.11 yet.
ensure_deb_src() {
	# (No grep -q: with pipefail, apt-cache would die of SIGPIPE.)
	if apt-cache showsrc python3.11 2>/dev/null | grep -c '^Package: python3.11' >/dev/null; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "apt has no deb-src entry; as root, add deb-src lines for bookworm and run apt-get update"
		exit 1
	fi
	local lines
	lines=$(deb_src_lines | sort -u)
	if [ -z "$lines" ]; then
		log "no deb lines found in /etc/apt to mirror as deb-src"
		exit 1
	fi
	log "adding /etc/apt/sources.list.d/wasmrun-src.list"
	printf '# Added by wasmrun runtimes/python/build.sh: deb-src mirrors of the deb lines.\n%s\n' "$lines" \
		>/etc/apt/sources.list.d/wasmrun-src.list
	apt-get update -qq
}

# cached_source PREFIX prints the directory of an already unpacked source
# (WORK/PREFIX-VERSION), if any.
cached_source() {
	local f
	for f in "$WORK/$1"-*/.unpacked; do
		[ -f "$f" ] && { dirname "$f"; return 0; }
	done
	return 0
}

# fetch_source PACKAGE PREFIX unpacks `apt-get source PACKAGE` into
# WORK/PREFIX-VERSION and prints that directory. Versions are tried newest
# first: a mirror's index may name a version whose files it lacks (yet).
fetch_source() {
	local version dir
	for version in $(apt-cache showsrc "$1" | awk '/^Version:/ {print $2}' | sort -rV); do
		dir=$WORK/$2-$version
		log "apt-get source $1=$version"
		rm -rf "$dir" && mkdir -p "$dir"
		if (cd "$dir" && apt-get source -qq --only-source "$1=$version" >/dev/null 2>&1); then
			touch "$dir/.unpacked"
			echo "$dir"
			return 0
		fi
		rm -rf "$dir"
	done
	log "apt-get source $1 failed for every version apt knows"
	exit 1
}

# source_tree DIR prints the unpacked tree inside a fetch_source directory.
source_tree() {
	find "$1" -mindepth 1 -maxdepth 1 -type d | head -1
}

# inputs_hash identifies this build: the script directory and the source.
inputs_hash() {
	(
		cd "$HERE"
		find . -type f ! -name '*~' -print0 | sort -z | xargs -0 sha256sum
		echo "$1"
	) | sha256sum | cut -d' ' -f1
}

# up_to_date DIR SRC ZSRC reports whether DIR holds a runtime built from
# the source dirs SRC (CPython) and ZSRC (zlib) and the current inputs.
up_to_date() {
	[ -n "$2" ] && [ -f "$1/.stamp" ] && [ -f "$1/python.wasm" ] && [ -f "$1/lib/python311.zip" ] &&
		[ "$(cat "$1/.stamp")" = "$(inputs_hash "$(basename "$2") $(basename "$3")")" ]
}

main() {
	local src zsrc hash
	mkdir -p "$WORK"
	# One build at a time (tests and make may start this concurrently); a
	# waiting caller then finds the result up to date.
	exec 9>"$WORK/.lock"
	flock 9
	src=$(cached_source src)
	zsrc=$(cached_source zlib)
	if [ -n "$zsrc" ] && up_to_date "$OUT" "$src" "$zsrc"; then
		log "up to date: $OUT"
		return 0
	fi
	# The finished runtime is kept in WORK/out, so that a build for another
	# OUT is a copy.
	if [ -z "$zsrc" ] || ! up_to_date "$WORK/out" "$src" "$zsrc"; then
		install_packages
		if [ -z "$src" ] || [ -z "$zsrc" ]; then
			ensure_deb_src
		fi
		[ -n "$src" ] || src=$(fetch_source python3.11 src)
		[ -n "$zsrc" ] || zsrc=$(fetch_source zlib zlib)
		# The hash of the inputs as they are when the build starts.
		hash=$(inputs_hash "$(basename "$src") $(basename "$zsrc")")
		log "building CPython $(basename "$src" | sed 's/^src-//') for WASI (a few minutes; logs in $WORK/build)"
		build "$(source_tree "$src")" "$(source_tree "$zsrc")"
		install_out "$(source_tree "$src")" "$WORK/out"
		echo "$hash" >"$WORK/out/.stamp"
	fi
	rm -rf "$OUT.new" && mkdir -p "$(dirname "$OUT")" && cp -r "$WORK/out" "$OUT.new"
	rm -rf "$OUT" && mv "$OUT.new" "$OUT"
	log "done: $OUT"
}

# build_wasisock compiles libwasisock.a into WORK/wasisock.
build_wasisock() {
	local d=$WORK/wasisock f objs=()
	rm -rf "$d" && mkdir -p "$d"
	for f in "$HERE"/wasisock/*.c; do
		clang-14 --target=wasm32-wasi -O2 -Wall -Wextra -Werror -I"$HERE/wasisock/include" \
			-c "$f" -o "$d/$(basename "$f" .c).o"
		objs+=("$d/$(basename "$f" .c).o")
	done
	llvm-ar-14 rcs "$d/libwasisock.a" "${objs[@]}"
}

# build_zlib compiles zlib (Debian's source at $1) into WORK/zlib/libz.a,
# for CPython's zlib module and binascii's crc32.
build_zlib() {
	local d=$WORK/zlib f
	rm -rf "$d" && mkdir -p "$d"
	for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback \
		inffast inflate inftrees trees uncompr zutil; do
		clang-14 --target=wasm32-wasi -O2 -DZ_HAVE_UNISTD_H -c "$1/$f.c" -o "$d/$f.o"
	done
	llvm-ar-14 rcs "$d/libz.a" "$d"/*.o
}

# build SRCDIR ZLIBDIR configures and makes CPython in WORK/build (from
# scratch: configure caches results in config.cache).
build() {
	local srcdir=$1 zlibdir=$2 b=$WORK/build
	build_wasisock
	build_zlib "$zlibdir"
	touch "$srcdir/Modules/Setup.local"
	rm -rf "$b" && mkdir -p "$b"
	cat "$srcdir/Tools/wasm/config.site-wasm32-wasi" "$HERE/config.site" >"$WORK/config.site"
	log "configure (log: $b/configure.log)"
	(
		cd "$b"
		CONFIG_SITE=$WORK/config.site \
		CC="clang-14 --target=wasm32-wasi" CPP="clang-cpp-14 --target=wasm32-wasi" \
		AR=llvm-ar-14 RANLIB=llvm-ranlib-14 PKG_CONFIG_LIBDIR=/nonexistent \
		CPPFLAGS="-I$HERE/wasisock/include" LIBS="$WORK/wasisock/libwasisock.a" \
		ZLIB_CFLAGS="-I$zlibdir" ZLIB_LIBS="$WORK/zlib/libz.a" \
		"$srcdir/configure" -C --host=wasm32-unknown-wasi --build=x86_64-pc-linux-gnu \
			--with-build-python="$BUILD_PYTHON" --enable-ipv6 >configure.log 2>&1
	) || { tail -30 "$b/configure.log" >&2; exit 1; }
	log "make -j$JOBS (log: $b/make.log)"
	# libwasisock's signal.c wraps these for signal delivery (only at make
	# time: configure's link tests must not need the wrappers).
	make -C "$b" -j"$JOBS" LDFLAGS_NODIST="-Wl,--wrap=signal -Wl,--wrap=poll -Wl,--wrap=select -Wl,--wrap=clock_nanosleep" \
		>"$b/make.log" 2>&1 || { tail -40 "$b/make.log" >&2; exit 1; }
}

# install_out SRCDIR DIR copies python.wasm (without debug info) into DIR
# and packs the stdlib.
install_out() {
	local srcdir=$1 dir=$2 b=$WORK/build sysconfig
	sysconfig=$(find "$b/build" -name '_sysconfigdata_*.py' | head -1)
	[ -n "$sysconfig" ] || { log "no _sysconfigdata in $b/build"; exit 1; }
	rm -rf "$dir" && mkdir -p "$dir/lib/python3.11/lib-dynload"
	llvm-strip-14 --strip-debug -o "$dir/python.wasm" "$b/python.wasm"
	"$BUILD_PYTHON" "$HERE/mkzip.py" "$srcdir/Lib" "$sysconfig" \
		"$dir/lib/python311.zip" /python/lib/python311.zip
	cp "$srcdir/LICENSE" "$dir/LICENSE"
}

main "$@"
