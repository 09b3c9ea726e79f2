package redisstore

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// eventBuffer is how many events may wait for a busy subscriber.
const eventBuffer = 1024

// Subscribe calls fn for every tenant event published on keys.Events, in
// order, from the calling goroutine, until ctx is done; then it returns
// ctx's error.
//
// fn first receives [store.EventReset] once the subscription is confirmed,
// and again after every re-subscription: go-redis reconnects a broken
// subscription by itself (its health check pings a quiet subscription every
// 3 seconds and renews it when the answer does not come), and
// messages published while it was broken are lost, so a cache must drop
// everything on a reset. Messages that are not a well-formed event of a
// valid tenant are ignored: the channel is shared, and a stray publish must
// not break the caches.
func (s *Store) Subscribe(ctx context.Context, fn func(store.Event)) error {
	ps := s.rdb.Subscribe(ctx, keys.Events)
	defer ps.Close()
	// go-redis drops a message it cannot hand over within a minute; the
	// buffer lets fn be slow for a while without losing any.
	msgs := ps.ChannelWithSubscriptions(redis.WithChannelSize(eventBuffer))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-msgs:
			if !ok {
				return errors.New("redisstore: subscription closed")
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					fn(store.Event{Type: store.EventReset})
				}
			case *redis.Message:
				if e, ok := decodeEvent(m.Payload); ok {
					fn(e)
				}
			}
		}
	}
}

// decodeEvent parses a published event and reports whether it is one a
// subscriber should see.
func decodeEvent(payload string) (store.Event, bool) {
	var e store.Event
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return e, false
	}
	switch e.Type {
	case store.EventCreated, store.EventUpdated, store.EventDeleted:
		return e, tenant.ValidID(e.TenantID)
	}
	return e, false
}
