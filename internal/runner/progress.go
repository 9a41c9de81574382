package runner

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"
)

// ProgressTick is how often the terminal's progress line is redrawn. A
// variable so that tests can change it.
var ProgressTick = 250 * time.Millisecond

// progress reports one compile on Options.Diag when it is slower than
// SlowCompile. On a terminal (Options.Terminal) a line appears once
// SlowCompile has passed and is redrawn in place with the time so far:
//
//	wasmrun: compiling node.wasm (45.6 MiB): 3.2s
//
// and the final line replaces it when the compile ends. Elsewhere the final
// line alone is written, once:
//
//	wasmrun: compiled /path/node.wasm (45.6 MiB) in 11.84s; cached in DIR, the next start is fast
//
// A process killed during the compile (Ctrl-C) leaves the progress line as
// it was drawn last.
type progress struct {
	w     io.Writer
	path  string
	size  int
	start time.Time

	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	drawn bool // the progress line is on the terminal
}

// startProgress starts reporting a compile of opts.Wasm; nil when opts asks
// for no report.
func startProgress(opts Options) *progress {
	if !opts.Progress || opts.Diag == nil {
		return nil
	}
	p := &progress{w: opts.Diag, path: opts.Path, size: len(opts.Wasm), start: time.Now()}
	if opts.Terminal {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.draw()
	}
	return p
}

// draw redraws the progress line from SlowCompile on until stop.
func (p *progress) draw() {
	defer close(p.done)
	wait := time.NewTimer(SlowCompile)
	defer wait.Stop()
	select {
	case <-p.stop:
		return
	case <-wait.C:
	}
	tick := time.NewTicker(ProgressTick)
	defer tick.Stop()
	name := filepath.Base(p.path)
	if len(name) > 40 {
		// One terminal line, or \r would not get back to its start.
		name = name[:37] + "..."
	}
	for {
		p.mu.Lock()
		fmt.Fprintf(p.w, "\r\x1b[Kwasmrun: compiling %s (%s): %.1fs", name, size(p.size), time.Since(p.start).Seconds())
		p.drawn = true
		p.mu.Unlock()
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
	}
}

// println writes a line of its own on w (a warning) during the compile:
// on a terminal, over the progress line, which the next tick redraws.
func (p *progress) println(w io.Writer, line string) {
	if p == nil {
		fmt.Fprintln(w, line)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintln(w, line)
}

// finish ends the report: the progress line is cleared, and a compile
// slower than SlowCompile gets the final line (where says where its code
// went; "" for a compile that failed, which gets none).
func (p *progress) finish(where string) {
	if p == nil {
		return
	}
	if p.stop != nil {
		close(p.stop)
		<-p.done
	}
	elapsed := time.Since(p.start)
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	if where != "" && elapsed > SlowCompile {
		fmt.Fprintf(p.w, "wasmrun: compiled %s (%s) in %s; %s\n", p.path, size(p.size), elapsed.Round(10*time.Millisecond), where)
	}
}
