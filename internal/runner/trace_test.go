package runner

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/wasi"
)

// traceC makes the calls TestTrace reads back: a file opened and read in
// the preopen /data, a missing one, a write to stdout, a TCP socket bound
// to 127.0.0.1:0 through the socket extension (V2 address), a nap
// (poll_oneoff on a clock), then calls with hostile arguments: pointers
// out of memory, a path that is a terminal escape sequence, an iovec
// count of 2^31. It exits with 7. With an argument, it sleeps a minute.
const traceC = `#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))
typedef struct { uint8_t *buf; uint32_t len; } addr_t;
IMPORT("sock_open") int32_t x_sock_open(int32_t af, int32_t type, int32_t *fd);
IMPORT("sock_bind") int32_t x_sock_bind(int32_t fd, addr_t *addr, int32_t port);
IMPORT("path_open") int32_t x_path_open(int32_t fd, int32_t dirflags, uint32_t path, uint32_t path_len,
	int32_t oflags, int64_t base, int64_t inheriting, int32_t fdflags, uint32_t opened);
IMPORT("fd_write") int32_t x_fd_write(int32_t fd, uint32_t iovs, uint32_t iovs_len, uint32_t nwritten);

int main(int argc, char **argv) {
	char buf[64];
	if (argc > 1) { // sleep: a call that never returns by itself
		sleep(60);
		return 0;
	}
	int fd = open("/data/in.txt", O_RDONLY);
	read(fd, buf, sizeof buf);
	close(fd);
	open("/data/missing.txt", O_RDONLY);
	write(1, "hello\n", 6);

	int32_t s;
	uint8_t a[128] = {1, 0, 127, 0, 0, 1};
	addr_t addr = {a, sizeof a};
	x_sock_open(1, 2, &s);
	x_sock_bind(s, &addr, 0);
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, 0);

	int32_t out;
	x_path_open(3, 0, 0xfffffff0u, 100, 0, 0, 0, 0, (uint32_t)&out);
	const char *esc = "\x1b]0;owned\x07\x1b[2J";
	x_path_open(3, 0, (uint32_t)esc, strlen(esc), 0, 0, 0, 0, (uint32_t)&out);
	x_fd_write(1, 0xfffffff8u, 1, (uint32_t)&out);
	x_fd_write(1, (uint32_t)buf, 0x80000000u, (uint32_t)&out);
	addr_t bad = {(uint8_t *)0xffffff00u, 128};
	x_sock_bind(s, &bad, 80);
	x_sock_bind(s, (addr_t *)0xfffffffcu, 80);
	_exit(7);
}
`

var traceGuest built

func buildTraceC(t testing.TB) string {
	t.Helper()
	return traceGuest.get(t, func(dir string) (string, string, error) {
		clang, err := exec.LookPath("clang-14")
		if err != nil {
			return "", "clang-14 is missing (install clang-14 and wasi-libc)", nil
		}
		src := filepath.Join(dir, "trace.c")
		out := filepath.Join(dir, "trace-c.wasm")
		if err := os.WriteFile(src, []byte(traceC), 0o644); err != nil {
			return "", "", err
		}
		return out, "", runCmd(t, exec.Command(clang, "--target=wasm32-wasi", "-O1", "-o", out, src))
	})
}

// runTraced runs the trace guest with a preopened /data holding in.txt
// and returns its stdout and the trace.
func runTraced(t *testing.T, opts Options) (stdout, trace string) {
	t.Helper()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "in.txt"), []byte("input"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var tr bytes.Buffer
	opts.Path = buildTraceC(t)
	opts.Preopens = []wasi.Preopen{{HostPath: data, GuestPath: "/data"}}
	opts.Stdout = out
	if opts.Trace == nil {
		opts.Trace = &tr
	}
	code, err := Run(context.Background(), opts)
	if err != nil || code != 7 {
		t.Fatalf("Run = %d, %v; want 7", code, err)
	}
	b, _ := os.ReadFile(out.Name())
	return string(b), tr.String()
}

// TestTrace: each call is one line, with its arguments decoded from guest
// memory, its errno by name and what it wrote; hostile arguments give
// "<bad pointer>" (and EFAULT from the call), never a crash, and a path
// is quoted, so that a guest cannot write escape sequences to the
// terminal of whoever reads the trace.
func TestTrace(t *testing.T) {
	stdout, trace := runTraced(t, Options{})
	if stdout != "hello\n" {
		t.Errorf("stdout %q, want hello", stdout)
	}
	t.Logf("trace:\n%s", trace)
	for _, want := range []string{
		`^fd_prestat_get\(fd=3\) = ESUCCESS prestat=\{dir,name_len=5\}$`,
		`^fd_prestat_dir_name\(fd=3\) = ESUCCESS path="/data"$`,
		`^path_open\(fd=3, dirflags=SYMLINK_FOLLOW, path="in.txt", oflags=0, fs_rights_base=0x[0-9a-f]+, fs_rights_inheriting=0x[0-9a-f]+, fdflags=0\) = ESUCCESS opened_fd=4$`,
		`^fd_read\(fd=4, iovs=\[64(,\d+)?\]\) = ESUCCESS nread=5$`,
		`^fd_close\(fd=4\) = ESUCCESS$`,
		`^path_open\(fd=3, dirflags=SYMLINK_FOLLOW, path="missing.txt", .*\) = ENOENT$`,
		`^fd_write\(fd=1, iovs=\[6\]\) = ESUCCESS nwritten=6$`,
		`^sock_open\(af=INET4, socktype=STREAM\) = ESUCCESS fd=4$`,
		`^sock_bind\(fd=4, addr=127.0.0.1:0\) = ESUCCESS$`,
		`^poll_oneoff\(subs=\[clock\((realtime|monotonic),1ms\)\]\) = ESUCCESS nevents=1$`,
		// Hostile arguments.
		`^path_open\(fd=3, dirflags=0, path=<bad pointer>, .*\) = EFAULT$`,
		`^path_open\(fd=3, dirflags=0, path="\\x1b\]0;owned\\a\\x1b\[2J", .*\) = ENOENT$`,
		`^fd_write\(fd=1, iovs=\[<bad pointer>\]\) = EFAULT$`,
		`^fd_write\(fd=1, iovs=\[\d+,\d+,\d+,\d+,\d+,\d+,\d+,\d+,...2147483640 more\]\) = E[A-Z]+$`,
		`^sock_bind\(fd=4, addr=<bad pointer>\) = EFAULT$`,
		`^proc_exit\(rval=7\)$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(trace) {
			t.Errorf("no line matches %s", want)
		}
	}
	if n := strings.Count(trace, "sock_bind("); n != 3 {
		t.Errorf("%d sock_bind lines, want 3", n)
	}
	if strings.ContainsRune(trace, 0x1b) {
		t.Errorf("the trace holds a raw escape character")
	}
	if !strings.HasSuffix(trace, "proc_exit(rval=7)\n") {
		t.Errorf("the trace does not end with proc_exit")
	}
}

// TestTraceUsesCache: a traced run uses the compiled module an untraced
// one cached, and leaves the cache as it was (the listeners are on the
// host module only), in either order.
func TestTraceUsesCache(t *testing.T) {
	dir := t.TempDir()
	var diag bytes.Buffer
	runTraced(t, Options{CacheDir: dir, Diag: &diag, Trace: &bytes.Buffer{}})
	first := cacheEntries(t, dir)
	if len(first) != 1 {
		t.Fatalf("cache entries after a traced run: %v, want 1", first)
	}
	runTraced(t, Options{CacheDir: dir, Diag: &diag, Trace: discard{}})
	runTraced(t, Options{CacheDir: dir, Diag: &diag})
	if after := cacheEntries(t, dir); !equalEntries(first, after) {
		t.Errorf("cache entries %v, then %v: a traced and an untraced run did not share the entry", first, after)
	}
	if diag.Len() != 0 {
		t.Errorf("diagnostics: %q", diag.String())
	}
}

// TestTraceAbort: a call that does not return (the guest is ended in
// poll_oneoff when its context is done) still gets its line.
func TestTraceAbort(t *testing.T) {
	var tr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if code, err := Run(ctx, Options{Path: buildTraceC(t), Args: []string{"sleep"}, Trace: &tr}); code == 0 {
		t.Fatalf("Run = %d, %v: want the guest ended", code, err)
	}
	l := lines(&tr)
	if last := l[len(l)-1]; last != "poll_oneoff(subs=[clock(realtime,1m0s)]) = ? (ended: the run's deadline passed)" &&
		last != "poll_oneoff(subs=[clock(monotonic,1m0s)]) = ? (ended: the run's deadline passed)" {
		t.Errorf("last line %q, want the poll_oneoff ended", last)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// equalEntries: the same files, none rewritten.
func equalEntries(a, b map[string]os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for p, st := range a {
		if st2, ok := b[p]; !ok || !os.SameFile(st, st2) || !st.ModTime().Equal(st2.ModTime()) {
			return false
		}
	}
	return true
}
