package task

import (
	"context"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/log"
)

// eventQueue publishes events one at a time in the order they were
// queued, so TaskCreate, TaskStart, TaskExit and TaskDelete of a task
// reach containerd in that order.
type eventQueue struct {
	ch      chan queued
	pending sync.WaitGroup // queued and not yet published
}

type queued struct {
	topic string
	event events.Event
}

func newEventQueue(ctx context.Context, p events.Publisher) *eventQueue {
	q := &eventQueue{ch: make(chan queued, 128)}
	go func() {
		for e := range q.ch {
			if err := p.Publish(ctx, e.topic, e.event); err != nil {
				log.G(ctx).WithError(err).WithField("topic", e.topic).Error("publish event")
			}
			q.pending.Done()
		}
	}()
	return q
}

func (q *eventQueue) publish(topic string, e events.Event) {
	q.pending.Add(1)
	q.ch <- queued{topic, e}
}

// Publish queues event: the queue as an events.Publisher, for what
// publishes through one (containerd's OOM watchers).
func (q *eventQueue) Publish(_ context.Context, topic string, e events.Event) error {
	q.publish(topic, e)
	return nil
}

// drain waits until every queued event has been handed to containerd, or
// until timeout: at shutdown, right after Delete, TaskDelete is still in
// the queue, and a shim that exits first loses it.
func (q *eventQueue) drain(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		q.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
