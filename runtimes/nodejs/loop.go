package main

import (
	"sync"
	"time"

	"github.com/dop251/goja"
)

// loop is the event loop: all JavaScript runs on the goroutine that calls
// run. Other goroutines (sockets, HTTP handlers, timers) hand work to it
// with post. The loop ends when no job is queued and no handle holds a ref
// (listening servers, open sockets, pending timers and requests).
type loop struct {
	vm    *goja.Runtime
	queue queue[func()]
	refs  int // only touched on the loop goroutine

	ticks []func() // process.nextTick callbacks

	timers    map[int64]*timer
	nextTimer int64

	// fatal handles an error thrown by a callback; it does not return
	// when the error is uncaught.
	fatal func(error)
	// afterTask runs after each macrotask (unhandled rejection checks).
	afterTask func()
}

func newLoop(vm *goja.Runtime) *loop {
	return &loop{vm: vm, queue: newQueue[func()](), timers: map[int64]*timer{}}
}

// post queues fn to run on the loop; safe from any goroutine.
func (l *loop) post(fn func()) { l.queue.push(fn) }

// ref and unref count the handles that keep the loop alive; loop
// goroutine only.
func (l *loop) ref()   { l.refs++ }
func (l *loop) unref() { l.refs-- }

// call runs a JavaScript function, sending a thrown error to fatal.
func (l *loop) call(fn goja.Callable, this goja.Value, args ...goja.Value) goja.Value {
	v, err := fn(this, args...)
	if err != nil {
		l.fatal(err)
	}
	return v
}

// callValue calls v if it is a function.
func (l *loop) callValue(v goja.Value, args ...goja.Value) {
	if fn, ok := goja.AssertFunction(v); ok {
		l.call(fn, goja.Undefined(), args...)
	}
}

// task runs fn as one macrotask: then the nextTick queue (promise jobs run
// as each call returns) and the after-task checks.
func (l *loop) task(fn func()) {
	fn()
	l.drainTicks()
	if l.afterTask != nil {
		l.afterTask()
	}
}

func (l *loop) drainTicks() {
	for len(l.ticks) > 0 {
		t := l.ticks[0]
		l.ticks[0] = nil
		l.ticks = l.ticks[1:]
		t()
	}
	l.ticks = nil
}

// run runs queued jobs until there is nothing left to wait for.
func (l *loop) run() {
	for {
		l.drainTicks()
		jobs := l.queue.take()
		if len(jobs) == 0 {
			if l.refs <= 0 {
				return
			}
			<-l.queue.signal
			continue
		}
		for _, j := range jobs {
			l.task(j)
		}
	}
}

// timer is a setTimeout/setInterval timer.
type timer struct {
	id       int64
	fn       goja.Callable
	args     []goja.Value
	delay    time.Duration
	repeat   bool
	active   bool
	refed    bool
	t        *time.Timer
	armedGen int // ignores a firing of a timer re-armed since
}

func (l *loop) startTimer(fn goja.Callable, delay time.Duration, repeat bool, args []goja.Value) *timer {
	if delay < time.Millisecond {
		delay = time.Millisecond
	}
	l.nextTimer++
	t := &timer{id: l.nextTimer, fn: fn, args: args, delay: delay, repeat: repeat, active: true, refed: true}
	l.timers[t.id] = t
	l.ref()
	l.arm(t)
	return t
}

func (l *loop) arm(t *timer) {
	t.armedGen++
	gen := t.armedGen
	t.t = time.AfterFunc(t.delay, func() {
		l.post(func() { l.fire(t, gen) })
	})
}

func (l *loop) fire(t *timer, gen int) {
	if !t.active || gen != t.armedGen {
		return
	}
	if !t.repeat {
		l.stopTimer(t)
	} else {
		l.arm(t)
	}
	l.call(t.fn, goja.Undefined(), t.args...)
}

func (l *loop) stopTimer(t *timer) {
	if !t.active {
		return
	}
	t.active = false
	t.t.Stop()
	delete(l.timers, t.id)
	if t.refed {
		l.unref()
	}
}

func (l *loop) refTimer(t *timer, ref bool) {
	if !t.active || t.refed == ref {
		return
	}
	t.refed = ref
	if ref {
		l.ref()
	} else {
		l.unref()
	}
}

func (l *loop) refreshTimer(t *timer) {
	if !t.active {
		return
	}
	t.t.Stop()
	l.arm(t)
}

// queue is an unbounded FIFO safe for many producers; signal has a value
// whenever items may be waiting.
type queue[T any] struct {
	mu     *sync.Mutex
	items  *[]T
	signal chan struct{}
}

func newQueue[T any]() queue[T] {
	return queue[T]{mu: new(sync.Mutex), items: new([]T), signal: make(chan struct{}, 1)}
}

func (q queue[T]) push(v T) {
	q.mu.Lock()
	*q.items = append(*q.items, v)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take removes and returns everything queued.
func (q queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := *q.items
	*q.items = nil
	return items
}
