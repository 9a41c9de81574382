package task

import (
	"context"

	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/log"
)

// eventQueue publishes events one at a time in the order they were
// queued, so TaskCreate, TaskStart, TaskExit and TaskDelete of a task
// reach containerd in that order.
type eventQueue struct {
	ch chan queued
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
		}
	}()
	return q
}

func (q *eventQueue) publish(topic string, e events.Event) { q.ch <- queued{topic, e} }
