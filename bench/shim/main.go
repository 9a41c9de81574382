// Command shim is the containerd shim benchmark (bench/shim.sh): on one
// private containerd 2.4.2 (internal/testdaemon) it compares the wasmrun
// shim with runc:
//
//   - latency: `ctr run --rm` of the hello guest (warm compile cache) vs
//     `ctr run --rm` of busybox echo under runc, interleaved runs;
//   - throughput: create-run-exit-delete of many containers (`ctr run
//     --rm`) with a given concurrency, tasks/s for each runtime;
//   - memory: VmRSS and PSS of the shim and the task process of an idle C guest,
//     an idle Go guest and (for reference) an idle busybox under runc.
//
// It prints markdown tables on stdout; progress goes to stderr. Ratios are
// reported, never asserted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

const wasmRuntime = "io.containerd.wasmrun.v1"

type config struct {
	shimDir, cacheDir         string
	busybox, hello            string // rootfs dirs
	idleC, idleGo             string
	runs, warmup, tasks, conc int
	idleN                     int
}

func main() {
	var c config
	flag.StringVar(&c.shimDir, "shim-dir", "bin", "directory holding containerd-shim-wasmrun-v1")
	flag.StringVar(&c.cacheDir, "cache-dir", "", "WASMRUN_CACHE_DIR for the shim")
	flag.StringVar(&c.busybox, "busybox", "", "rootfs with /bin/busybox")
	flag.StringVar(&c.hello, "hello", "", "rootfs with /hello.wasm")
	flag.StringVar(&c.idleC, "idle-c", "", "rootfs with /idle.wasm (C)")
	flag.StringVar(&c.idleGo, "idle-go", "", "rootfs with /idle.wasm (Go)")
	flag.IntVar(&c.runs, "runs", 20, "latency runs per runtime")
	flag.IntVar(&c.warmup, "warmup", 3, "latency warm-up runs per runtime")
	flag.IntVar(&c.tasks, "tasks", 200, "containers per runtime in the throughput run")
	flag.IntVar(&c.conc, "conc", 4, "concurrency of the throughput run")
	flag.IntVar(&c.idleN, "idle-n", 10, "idle containers at once for the per-container memory rows")
	flag.Parse()
	t := &tb{}
	// Interrupted (Ctrl-C, the script killed, a closed output pipe): stop
	// the daemon and remove its containers before exiting.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "bench/shim: %v: cleaning up\n", s)
		t.cleanup()
		os.Exit(1)
	}()
	code := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				f, ok := r.(benchFailure)
				if !ok {
					t.cleanup()
					panic(r)
				}
				fmt.Fprintf(os.Stderr, "bench/shim: %s\n", f)
				code = 1
			}
			t.cleanup()
		}()
		run(t, c)
	}()
	os.Exit(code)
}

// bench is one daemon and the commands the benchmark runs on it.
type bench struct {
	t   *tb
	d   *testdaemon.Daemon
	c   config
	seq atomic.Int64
}

type runtimeCase struct {
	name string
	args func(id string) []string // `ctr run --rm` arguments after --rm
	want string
}

func run(t *tb, c config) {
	shimDir, err := filepath.Abs(c.shimDir)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{}
	if c.cacheDir != "" {
		env = append(env, "WASMRUN_CACHE_DIR="+c.cacheDir)
	}
	bin, err := testdaemon.FindContainerd2()
	if err != nil {
		t.Fatalf("%v (run scripts/install-containerd.sh)", err)
	}
	d := testdaemon.Start(t, bin, testdaemon.Options{PathDirs: []string{shimDir}, Env: env})
	b := &bench{t: t, d: d, c: c}
	// Anything left behind (a failed run) is removed before the daemon stops.
	t.Cleanup(b.removeAll)

	runc := runtimeCase{"runc: busybox echo hello", func(id string) []string {
		return []string{"--rootfs", c.busybox, id, "/bin/busybox", "echo", "hello"}
	}, "hello"}
	wasm := runtimeCase{"wasmrun: hello.wasm (C)", func(id string) []string {
		return []string{"--runtime", wasmRuntime, "--rootfs", c.hello, id, "/hello.wasm"}
	}, "hello"}

	fmt.Fprintf(os.Stderr, "bench/shim: latency, %d runs each after %d warm-up, interleaved\n", c.runs, c.warmup)
	lat := b.latency([]runtimeCase{runc, wasm})
	fmt.Println("| `ctr run --rm` | median (mean) | min | ratio of medians to runc |")
	fmt.Println("|---|---|---|---|")
	for i, rc := range []runtimeCase{runc, wasm} {
		fmt.Printf("| %s | %s (%s) | %s | %.2fx |\n", rc.name, ms(median(lat[i])), ms(mean(lat[i])), ms(minimum(lat[i])),
			float64(median(lat[i]))/float64(median(lat[0])))
	}
	fmt.Println()

	fmt.Fprintf(os.Stderr, "bench/shim: throughput, %d containers each, concurrency %d\n", c.tasks, c.conc)
	// Batches of at most chunk containers, alternating the runtimes (and
	// which goes first), so the machine's load drifts equally over both.
	const chunk = 20
	var rates [2]float64
	var walls [2]time.Duration
	cases := []runtimeCase{runc, wasm}
	for done, round := 0, 0; done < c.tasks; round++ {
		n := min(chunk, c.tasks-done)
		for j := range cases {
			k := j
			if round%2 == 1 {
				k = len(cases) - 1 - j
			}
			walls[k] += b.throughput(cases[k], n)
		}
		done += n
	}
	for i := range cases {
		rates[i] = float64(c.tasks) / walls[i].Seconds()
	}
	fmt.Printf("| create-run-exit-delete, %d containers, concurrency %d | wall (sum of batches) | tasks/s | ratio to runc |\n", c.tasks, c.conc)
	fmt.Println("|---|---|---|---|")
	for i, rc := range []runtimeCase{runc, wasm} {
		fmt.Printf("| %s | %.2f s | %.1f | %.2fx |\n", rc.name, walls[i].Seconds(), rates[i], rates[i]/rates[0])
	}
	fmt.Println()

	fmt.Fprintln(os.Stderr, "bench/shim: idle memory")
	fmt.Println("| idle container | shim VmRSS | task VmRSS | sum | PSS of both (shared pages split) |")
	fmt.Println("|---|---|---|---|---|")
	idleC := func(id string) []string {
		return []string{"--runtime", wasmRuntime, "--rootfs", c.idleC, id, "/idle.wasm"}
	}
	idleBusybox := func(id string) []string {
		return []string{"--rootfs", c.busybox, id, "/bin/busybox", "sleep", "3600"}
	}
	for _, m := range []struct {
		name string
		args func(id string) []string
		n    int
	}{
		{"wasmrun: C guest (sleep)", idleC, 1},
		{"wasmrun: Go guest (time.Sleep)", func(id string) []string {
			return []string{"--runtime", wasmRuntime, "--rootfs", c.idleGo, id, "/idle.wasm"}
		}, 1},
		{"runc: busybox sleep (reference)", idleBusybox, 1},
		{fmt.Sprintf("wasmrun: C guest, %d at once (per container)", c.idleN), idleC, c.idleN},
		{fmt.Sprintf("runc: busybox sleep, %d at once (per container)", c.idleN), idleBusybox, c.idleN},
	} {
		shim, task, same := b.idle(m.args, m.n)
		if same {
			fmt.Printf("| %s | %s | (in the shim) | %s | %s |\n", m.name, mb(shim.rss), mb(shim.rss), mb(shim.pss))
		} else {
			fmt.Printf("| %s | %s | %s | %s | %s |\n", m.name, mb(shim.rss), mb(task.rss), mb(shim.rss+task.rss), mb(shim.pss+task.pss))
		}
	}
}

func (b *bench) id(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), b.seq.Add(1))
}

// runOnce is one `ctr run --rm` checked for its output; it returns the
// wall time around the ctr process.
func (b *bench) runOnce(rc runtimeCase, prefix string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := b.id(prefix)
	cmd := b.d.CtrCommand(ctx, append([]string{"run", "--rm"}, rc.args(id)...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		b.t.Fatalf("%s: ctr run %s: %v: %s\ndaemon log:\n%s", rc.name, id, err, stderr.String(), b.d.TailLog())
	}
	if got := strings.TrimSpace(string(out)); got != rc.want {
		b.t.Fatalf("%s: ctr run %s printed %q, want %q", rc.name, id, got, rc.want)
	}
	return wall
}

// latency runs each case warmup times, then runs times, round-robin
// (alternating which goes first) so the machine's load drifts equally.
func (b *bench) latency(cases []runtimeCase) [][]time.Duration {
	for i := 0; i < b.c.warmup; i++ {
		for _, rc := range cases {
			b.runOnce(rc, "lw")
		}
	}
	res := make([][]time.Duration, len(cases))
	for i := 0; i < b.c.runs; i++ {
		for j := range cases {
			k := j
			if i%2 == 1 {
				k = len(cases) - 1 - j
			}
			res[k] = append(res[k], b.runOnce(cases[k], "lat"))
		}
	}
	return res
}

// throughput runs n containers with conc workers and returns the wall
// time of the whole batch.
func (b *bench) throughput(rc runtimeCase, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < b.c.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A failure in a worker is reported by the main goroutine.
				if r := recover(); r != nil {
					if f, ok := r.(benchFailure); ok {
						fmt.Fprintf(os.Stderr, "bench/shim: %s\n", f)
						next.Store(1 << 40)
						return
					}
					panic(r)
				}
			}()
			for next.Add(1) <= int64(n) {
				b.runOnce(rc, "tp")
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if next.Load() >= 1<<40 {
		b.t.Fatalf("%s: throughput run failed", rc.name)
	}
	return wall
}

// memory is what a process uses, in kB: VmRSS counts every page it has
// mapped; Pss splits each shared page (a binary's text, shared by the
// processes running it) between the processes sharing it.
type memory struct{ rss, pss int }

func readMemory(t *tb, pid int) memory {
	return memory{
		rss: procKB(t, pid, "status", "VmRSS:"),
		pss: procKB(t, pid, "smaps_rollup", "Pss:"),
	}
}

// idle starts n detached containers, waits until they all run, reads the
// memory of their shims and task processes, and removes them; it returns
// the mean per container. same is true when the task runs inside the shim
// process. With n > 1 the shims (and the task processes) share their
// binary's pages, which PSS splits between them, as on a node running
// many containers.
func (b *bench) idle(args func(id string) []string, n int) (shim, task memory, same bool) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.id("idle")
		b.ctr(append([]string{"run", "-d"}, args(ids[i])...)...)
		defer b.remove(ids[i])
	}
	pids := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(pids) < n {
		for _, l := range strings.Split(b.ctr("task", "ls"), "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && f[2] == "RUNNING" && slices.Contains(ids, f[0]) {
				pids[f[0]], _ = strconv.Atoi(f[1])
			}
		}
		if len(pids) < n {
			if time.Now().After(deadline) {
				b.t.Fatalf("%d of %d containers running after 30s", len(pids), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Let the guests reach their sleep (module loaded, runtime started).
	time.Sleep(500 * time.Millisecond)
	for _, id := range ids {
		pid, shimPid := pids[id], b.shimOf(id)
		if shimPid == 0 {
			b.t.Fatalf("no shim process found for %s", id)
		}
		m := readMemory(b.t, shimPid)
		shim.rss += m.rss
		shim.pss += m.pss
		if shimPid == pid {
			same = true
			continue
		}
		m = readMemory(b.t, pid)
		task.rss += m.rss
		task.pss += m.pss
	}
	shim = memory{shim.rss / n, shim.pss / n}
	task = memory{task.rss / n, task.pss / n}
	return shim, task, same
}

// shimOf finds the shim serving id: one of the daemon's processes with
// "-id ID" on its command line.
func (b *bench) shimOf(id string) int {
	for _, pid := range b.d.Processes() {
		cl, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			continue
		}
		if strings.Contains(string(cl), "\x00-id\x00"+id+"\x00") {
			return pid
		}
	}
	return 0
}

// procKB reads the "KEY: N kB" line of /proc/PID/FILE.
func procKB(t *tb, pid int, file, key string) int {
	s, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		t.Fatalf("read %s of %d: %v", file, pid, err)
	}
	for _, l := range strings.Split(string(s), "\n") {
		if rest, ok := strings.CutPrefix(l, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.Atoi(f[0])
				if err == nil {
					return kb
				}
			}
		}
	}
	t.Fatalf("no %s in /proc/%d/%s", key, pid, file)
	return 0
}

func (b *bench) ctr(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := b.d.Ctr(ctx, args...)
	if err != nil {
		b.t.Fatalf("%v\ndaemon log:\n%s", err, b.d.TailLog())
	}
	return out
}

// remove kills and deletes a container and its task, ignoring errors.
func (b *bench) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.d.Ctr(ctx, "task", "rm", "-f", id)
	b.d.Ctr(ctx, "container", "rm", id)
}

// removeAll removes every container left in the namespace.
func (b *bench) removeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := b.d.Ctr(ctx, "container", "ls", "-q")
	if err != nil {
		return
	}
	for _, id := range strings.Fields(out) {
		b.remove(id)
	}
}

func minimum(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	m := d[0]
	for _, x := range d[1:] {
		m = min(m, x)
	}
	return m
}
