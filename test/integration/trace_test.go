package integration

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// --trace[=FILE] prints every WASI call of the guest, one line each, on
// stderr or in FILE; without it nothing is printed. The C files guest
// (testdata/c/files.c) makes a known set of file calls in a preopened
// directory and prints its results on stdout, so its trace can be
// checked line by line and against its output.

// traceLine is the shape of every trace line: a call and its errno, or
// proc_exit, which does not return.
var traceLine = regexp.MustCompile(`^[a-z_0-9]+\(.*\)( = [A-Z_0-9]+( .*)?)?$`)

// wantTrace fails unless each of want (regular expressions) matches a
// whole line of trace, every line has the shape of a call, and the
// lengths fd_write reports for fd 1 add up to stdout's (unless "").
func wantTrace(t *testing.T, trace, stdout string, want ...string) {
	t.Helper()
	if trace == "" {
		t.Fatal("no trace")
	}
	written := 0
	for _, l := range lines(trace) {
		if !traceLine.MatchString(l) {
			t.Errorf("trace line %q is not a call", l)
		}
		if m := regexp.MustCompile(`^fd_write\(fd=1, iovs=\[[0-9,]+\]\) = ESUCCESS nwritten=(\d+)$`).FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			written += n
		}
	}
	if stdout != "" && written != len(stdout) {
		t.Errorf("fd_write to fd 1 wrote %d bytes in the trace, stdout has %d", written, len(stdout))
	}
	for _, w := range want {
		if !regexp.MustCompile(`(?m)^` + w + `$`).MatchString(trace) {
			t.Errorf("no trace line matches %s", w)
		}
	}
	if t.Failed() {
		t.Logf("trace:\n%s", trace)
	}
}

// filesTrace are lines the files guest's trace has with its directory
// preopened at /data as fd dir, and fd file the first one it opens.
func filesTrace(dir, file int) []string {
	d, f := strconv.Itoa(dir), strconv.Itoa(file)
	return []string{
		`fd_prestat_dir_name\(fd=` + d + `\) = ESUCCESS path="/data"`,
		`path_create_directory\(fd=` + d + `, path="work"\) = ESUCCESS`,
		`path_open\(fd=` + d + `, dirflags=SYMLINK_FOLLOW, path="work/a\.txt", oflags=CREAT\|TRUNC, fs_rights_base=0x[0-9a-f]+, fs_rights_inheriting=0x[0-9a-f]+, fdflags=0\) = ESUCCESS opened_fd=` + f,
		`fd_write\(fd=` + f + `, iovs=\[13\]\) = ESUCCESS nwritten=13`,
		`fd_seek\(fd=` + f + `, offset=-6, whence=END\) = ESUCCESS newoffset=7`,
		`fd_filestat_get\(fd=` + f + `\) = ESUCCESS filestat=\{filetype=REGULAR_FILE,size=100\}`,
		`path_open\(fd=` + d + `, .*path="work/a\.txt", .*fdflags=APPEND\) = ESUCCESS opened_fd=` + f,
		`fd_write\(fd=1, iovs=\[[0-9,]+\]\) = ESUCCESS nwritten=\d+`,
	}
}

func TestTraceRun(t *testing.T) {
	t.Parallel()
	wasm := guests.C(t, "files")
	filesRun := func(flags ...string) result {
		dir := t.TempDir()
		args := append(append([]string{"run"}, flags...), "--dir", dir+":/data", wasm, "--", "/data", "1")
		r := run(t, nil, args...)
		mustExit(t, r, 0)
		return r
	}

	plain := filesRun()
	if plain.stderr != "" {
		t.Errorf("without --trace: stderr %q, want nothing", plain.stderr)
	}

	r := filesRun("--trace")
	if r.stdout != plain.stdout {
		t.Errorf("with --trace, stdout %q; without, %q", r.stdout, plain.stdout)
	}
	wantTrace(t, r.stderr, r.stdout, filesTrace(3, 4)...)

	// --trace=FILE: the file is truncated, stderr stays the guest's.
	file := filepath.Join(t.TempDir(), "trace.log")
	writeFile(t, file, strings.Repeat("left from before\n", 1000))
	r = filesRun("--trace=" + file)
	if r.stderr != "" {
		t.Errorf("with --trace=FILE: stderr %q, want nothing", r.stderr)
	}
	wantTrace(t, readFile(t, file), r.stdout, filesTrace(3, 4)...)
	if strings.Contains(readFile(t, file), "left from before") {
		t.Errorf("--trace=FILE did not truncate FILE")
	}

	// A file that cannot be created fails before the guest runs.
	bad := run(t, nil, "run", "--trace="+filepath.Join(t.TempDir(), "no", "such", "dir"), wasm)
	mustExit(t, bad, 125)
	if !strings.Contains(bad.stderr, "--trace=") || bad.stdout != "" {
		t.Errorf("--trace into a missing directory: stdout %q, stderr %q", bad.stdout, bad.stderr)
	}
}

// TestTraceRunSockets: socket calls with their addresses and errnos: a
// client that connects, sends and receives, and one refused.
func TestTraceRunSockets(t *testing.T) {
	t.Parallel()
	wasm := sockEcho(t, "V2")
	l := tcpServer(t, func(c net.Conn) {
		got, _ := io.ReadAll(c)
		c.Write([]byte("reply to " + string(got)))
	})
	port := strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")
	r := run(t, nil, "run", "--trace", wasm, "--", "tcp-client", "127.0.0.1", port, "hi")
	mustExit(t, r, 0)
	wantTrace(t, r.stderr, r.stdout,
		`sock_open\(af=INET4, socktype=STREAM\) = ESUCCESS fd=3`,
		`sock_connect\(fd=3, addr=127\.0\.0\.1:`+port+`\) = ESUCCESS`,
		`sock_getpeeraddr\(fd=3\) = ESUCCESS addr=127\.0\.0\.1:`+port,
		`fd_write\(fd=3, iovs=\[2\]\) = ESUCCESS nwritten=2`,
		`sock_shutdown\(fd=3, how=WR\) = ESUCCESS`,
		`fd_read\(fd=3, iovs=\[\d+\]\) = ESUCCESS nread=11`,
	)

	// A server: its bind, listen, accept and the addresses it reads.
	g := startSockGuest(t, "run", "--trace", wasm, "--", "tcp-server", "127.0.0.1", "1")
	lport := g.expect("listening")
	if got := echoOnce(t, "tcp", "127.0.0.1:"+lport, "ping"); got != "ping" {
		t.Errorf("echo: %q", got)
	}
	g.expect("done")
	g.wait()
	wantTrace(t, g.stderrText(), "", // its stdout is read as it comes: not compared
		`sock_bind\(fd=3, addr=127\.0\.0\.1:0\) = ESUCCESS`,
		`sock_getlocaladdr\(fd=3\) = ESUCCESS addr=127\.0\.0\.1:`+lport,
		`sock_listen\(fd=3, backlog=\d+\) = ESUCCESS`,
		`sock_accept\(fd=3, flags=0\) = ESUCCESS fd=4`,
		`sock_getpeeraddr\(fd=4\) = ESUCCESS addr=127\.0\.0\.1:\d+`,
		`fd_read\(fd=4, iovs=\[\d+\]\) = ESUCCESS nread=4`,
	)

	closed := strconv.Itoa(freePort(t, "tcp"))
	r = run(t, nil, "run", "--trace", wasm, "--", "tcp-client", "127.0.0.1", closed, "x")
	mustExit(t, r, 1)
	wantTrace(t, r.stderr, r.stdout, `sock_connect\(fd=3, addr=127\.0\.0\.1:`+closed+`\) = ECONNREFUSED`)
}

// TestTraceOS: the same through wasmrun os, where the guest runs in the
// container process (wasmrun-init), whose stderr is the app's: the trace
// comes from there, on stderr or in FILE, which the front end opens and
// passes on. A socket the guest opens in its namespace is traced with its
// errno.
func TestTraceOS(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	files := e.app1(guests.C(t, "files"))
	filesRun := func(flags ...string) result {
		dir := t.TempDir()
		os.Chmod(dir, 0o777) // the app runs as the directory's owner or nobody
		args := append(append([]string{"os"}, flags...), "--dir", dir+":/data", files, "--", "/data", "1")
		r := e.run(args...)
		mustExit(t, r, 0)
		return r
	}

	plain := filesRun()
	if plain.stderr != "" {
		t.Errorf("without --trace: stderr %q, want nothing", plain.stderr)
	}
	// The app's root is fd 3, /data fd 4 and its private /tmp fd 5.
	r := filesRun("--trace")
	wantTrace(t, r.stderr, r.stdout, filesTrace(4, 6)...)

	file := filepath.Join(t.TempDir(), "trace.log")
	r = filesRun("--trace=" + file)
	if r.stderr != "" {
		t.Errorf("with --trace=FILE: stderr %q, want nothing", r.stderr)
	}
	wantTrace(t, readFile(t, file), r.stdout, filesTrace(4, 6)...)

	sock := e.app1(sockEcho(t, "V2"))
	r = e.run("os", "--trace", sock, "--", "tcp-client", "127.0.0.1", "1", "x")
	mustExit(t, r, 1)
	wantTrace(t, r.stderr, r.stdout,
		`sock_open\(af=INET4, socktype=STREAM\) = ESUCCESS fd=5`,
		`sock_connect\(fd=5, addr=127\.0\.0\.1:1\) = ECONNREFUSED`)
}

// TestTracePlanted: --trace=FILE in a sticky directory anyone can write
// (/tmp) is not followed into what another user put there for it: their
// link (which the kernel follows where fs.protected_symlinks is off,
// letting them have root's wasmrun truncate and write any file) or their
// file is refused with one line before the guest runs, and the file it
// names is unchanged; a new name there is written.
func TestTracePlanted(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	shared := t.TempDir()
	if err := os.Chmod(shared, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link, theirs := filepath.Join(shared, "link.trace"), filepath.Join(shared, "theirs.trace")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(theirs, []byte("theirs\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, theirs} {
		if err := os.Lchown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	// Another user's link higher up: their directory link in /tmp that
	// leads to the file's directory.
	dirLink := filepath.Join(shared, "theirdir")
	if err := os.Symlink(filepath.Dir(victim), dirLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(dirLink, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(filepath.Dir(victim), "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	subLink := filepath.Join(shared, "theirsub")
	if err := os.Symlink(sub, subLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(subLink, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	wasm := guests.C(t, "args_env_exit")
	for _, tc := range []struct{ path, want string }{
		{link, "is a link"}, {theirs, "another user's file"}, {filepath.Join(dirLink, "victim"), "owned by uid 65534"},
		// Their link to a subdirectory of the file's, then up: the
		// spelling names the trusted sticky directory, the kernel goes
		// up from where the link leads.
		{subLink + "/../victim", "with .. in it"}, // not filepath.Join: it cleans ..
	} {
		r := run(t, nil, "run", "--trace="+tc.path, wasm)
		mustExit(t, r, ExitFailure)
		if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--trace=%s: stderr %q, want one line with %q", tc.path, r.stderr, tc.want)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the file the link names now holds %q", b)
	}
	if b, _ := os.ReadFile(theirs); string(b) != "theirs\n" {
		t.Errorf("the other user's file now holds %q", b)
	}
	mine := filepath.Join(shared, "mine.trace")
	mustExit(t, run(t, nil, "run", "--trace="+mine, wasm), 0)
	if b, _ := os.ReadFile(mine); !strings.Contains(string(b), "args_get() = ESUCCESS") {
		t.Errorf("a new name in the directory: trace %q", b)
	}
}
