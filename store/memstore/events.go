package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/seedmcp/tenancy/store"
)

// subscriber is one running Subscribe call: events queue here without
// bound, so that a slow subscriber never blocks a write to the store.
type subscriber struct {
	mu     sync.Mutex
	queue  []store.Event
	notify chan struct{} // capacity 1: "the queue is not empty"
}

// Subscribe calls fn with [store.EventReset] and then with every event of
// a write to this Store, in order, from the calling goroutine, until ctx is
// done; then it returns ctx's error. A memory store never loses events, so
// the reset comes only once.
func (s *Store) Subscribe(ctx context.Context, fn func(store.Event)) error {
	sub := &subscriber{notify: make(chan struct{}, 1)}
	s.mu.Lock()
	s.subs[sub] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	fn(store.Event{Type: store.EventReset})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.notify:
		}
		sub.mu.Lock()
		events := sub.queue
		sub.queue = nil
		sub.mu.Unlock()
		for _, e := range events {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fn(e)
		}
	}
}

// Mark queues an [store.EventSync] event carrying mark for every
// subscriber, after every event of a write that returned before the call.
// mark must pass [store.ValidKey].
func (s *Store) Mark(ctx context.Context, mark string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.ValidKey(mark); err != nil {
		return fmt.Errorf("memstore: mark: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publish(store.Event{Type: store.EventSync, Mark: mark})
	return nil
}

// publish queues e for every subscriber. The caller holds s.mu, so events
// are queued in the order of the writes.
func (s *Store) publish(e store.Event) {
	for sub := range s.subs {
		sub.mu.Lock()
		sub.queue = append(sub.queue, e)
		sub.mu.Unlock()
		select {
		case sub.notify <- struct{}{}:
		default:
		}
	}
}
