package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Timing of a subscription: variables only so that tests can shorten them.
var (
	// quietPing is how long a subscription may receive nothing before it
	// is pinged. A connection whose peer vanished without closing it (a
	// machine lost, a network cut) delivers nothing and reports nothing:
	// only an unanswered ping tells.
	quietPing = time.Second
	// pongWait is how long a ping may go unanswered before the
	// subscription is given up and made again. It is generous, so that a
	// busy machine never drops a healthy subscription (each drop is a
	// reset, which empties every cache).
	pongWait = 5 * time.Second
)

// resubscribeMin and resubscribeMax bound the wait between attempts to
// subscribe again, which doubles after every failed one. The maximum is
// short: while the events' node is being replaced, every moment of wait is
// a moment of events this replica does not see, and an attempt costs one
// command to one node.
const (
	resubscribeMin = 100 * time.Millisecond
	resubscribeMax = 500 * time.Millisecond
)

// Errors that end a subscription and make the next one reload the slot
// map first.
var (
	// errUnsubscribed is a subscription that the server ended: on a
	// cluster, the node that held it no longer serves the channel's slot.
	errUnsubscribed = errors.New("redisstore: the server ended the subscription")
	// errNotMaster is a node that the slot map names as the master of the
	// channel's slot but that is a replica now.
	errNotMaster = errors.New("redisstore: the events' node is not a master")
)

// Subscribe calls fn for every tenant event published on keys.Events, in
// order, from the calling goroutine, until ctx is done; then it returns
// ctx's error.
//
// On a Redis Cluster (a *redis.ClusterClient) the events use sharded
// pub/sub (SSUBSCRIBE and SPUBLISH, Redis 7): an event then travels to the
// one shard that owns the channel's slot, its master and replicas, instead
// of being broadcast over the cluster bus to every node, so its cost does
// not grow with the cluster. On a single node, and through Sentinel,
// classic pub/sub is used.
//
// fn first receives [store.EventReset] once the subscription is confirmed,
// and again after every re-subscription: messages published while a
// subscription was broken are lost, so a cache must drop everything (and
// reload what it needs) on a reset. A subscription is made again whenever
// its connection fails, a ping goes unanswered for 5 seconds, or the
// server ends it (a cluster node that loses the channel's slot to a
// failover or a migration does that); on a cluster, the slot map is reloaded
// first, so the new subscription goes to the slot's new owner rather than
// to the node that failed. Messages that are not a well-formed event of a
// valid tenant are ignored: the channel is shared, and a stray publish
// must not break the caches.
//
// fn runs on the goroutine that reads the subscription, so while it is
// busy the events wait in Redis's output buffer of this connection
// (client-output-buffer-limit pubsub, by default 32 MB hard and 8 MB for
// a minute: hundreds of thousands of events). A subscriber that falls
// further behind is disconnected by Redis, and resubscribes with a reset:
// nothing is dropped without one.
//
// Subscribe returns early only when Redis refuses the subscription with
// an error reply that no retry can cure (for example an ACL that forbids
// the channel, or a cluster older than Redis 7, which has no sharded
// pub/sub); the caller should log it and call Subscribe again later.
func (s *Store) Subscribe(ctx context.Context, fn func(store.Event)) error {
	wait := resubscribeMin
	for {
		confirmed, err := s.subscribeOnce(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if refused(err) {
			return fmt.Errorf("redisstore: subscribe to tenant events: %w", err)
		}
		// The node may have died or lost the slot: the next attempt
		// must not go back to it on an old slot map.
		s.topology.failed(err)
		if confirmed {
			wait = resubscribeMin
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, resubscribeMax)
	}
}

// subscribeOnce runs one subscription until it fails or ctx is done, and
// reports whether it was confirmed (and fn got its reset).
func (s *Store) subscribeOnce(ctx context.Context, fn func(store.Event)) (confirmed bool, err error) {
	ps, err := s.open(ctx)
	if err != nil {
		return false, err
	}
	defer ps.Close()
	// A read blocks until its deadline whatever ctx says: closing the
	// subscription is what ends it at once.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	var pinged time.Time // when the unanswered ping was sent; zero if none
	for {
		msg, err := ps.ReceiveTimeout(ctx, quietPing)
		if err != nil {
			if !isTimeout(err) {
				return confirmed, err
			}
			switch {
			case pinged.IsZero():
				if err := ps.Ping(ctx); err != nil {
					return confirmed, err
				}
				pinged = time.Now()
			case time.Since(pinged) > pongWait:
				return confirmed, fmt.Errorf("redisstore: no answer to a ping on the event subscription in %v", pongWait)
			}
			continue
		}
		pinged = time.Time{} // anything received proves the connection alive
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				confirmed = true
				fn(store.Event{Type: store.EventReset})
			case "unsubscribe", "sunsubscribe":
				// This code never unsubscribes: the server did.
				return confirmed, errUnsubscribed
			}
		case *redis.Message:
			if e, ok := decodeEvent(m.Payload); ok {
				fn(e)
			}
		}
	}
}

// open starts a subscription to keys.Events: SSUBSCRIBE on the master of
// its slot on a cluster, SUBSCRIBE otherwise.
//
// On a cluster the subscription is made on the master's own client, after
// the node has confirmed that it is a master: a replica accepts a sharded
// subscription too (it gets the messages through replication), and one
// that a stale slot map still names as the master (a master demoted a
// moment ago, before the slot map was reloaded) would hold the
// subscription on a node that may be far behind, or cut off from its
// master without anything telling this subscriber.
func (s *Store) open(ctx context.Context) (*redis.PubSub, error) {
	cc, ok := s.rdb.(*redis.ClusterClient)
	if !ok || !s.sharded {
		ps := s.rdb.Subscribe(ctx)
		if err := ps.Subscribe(ctx, keys.Events); err != nil {
			_ = ps.Close()
			return nil, err
		}
		return ps, nil
	}
	node, err := cc.MasterForKey(ctx, keys.Events)
	if err != nil {
		return nil, err
	}
	// A user whose ACL forbids ROLE skips the check rather than the
	// events.
	role, err := node.Do(ctx, "role").Slice()
	switch {
	case err == nil && len(role) > 0 && role[0] != "master":
		return nil, fmt.Errorf("%w: %s is a %v", errNotMaster, node.Options().Addr, role[0])
	case err != nil && !redis.IsPermissionError(err):
		return nil, err
	}
	ps := node.SSubscribe(ctx)
	if err := ps.SSubscribe(ctx, keys.Events); err != nil {
		_ = ps.Close()
		return nil, err
	}
	return ps, nil
}

// sendEvent publishes an encoded event on keys.Events, with SPUBLISH on a
// cluster (see [Store.Subscribe]).
func (s *Store) sendEvent(ctx context.Context, msg []byte) error {
	if s.sharded {
		return s.rdb.SPublish(ctx, keys.Events, msg).Err()
	}
	return s.rdb.Publish(ctx, keys.Events, msg).Err()
}

// Mark publishes an [store.EventSync] event carrying mark on keys.Events,
// where it follows every event published before it: Redis delivers the
// messages of a channel in the order it ran the PUBLISH (or SPUBLISH)
// commands. mark must pass [store.ValidKey]. One round trip.
func (s *Store) Mark(ctx context.Context, mark string) error {
	if err := store.ValidKey(mark); err != nil {
		return fmt.Errorf("redisstore: mark: %w", err)
	}
	msg, err := json.Marshal(store.Event{Type: store.EventSync, Mark: mark})
	if err != nil {
		return err
	}
	if err := s.sendEvent(ctx, msg); err != nil {
		return fmt.Errorf("redisstore: publish mark: %w", err)
	}
	return nil
}

// decodeEvent parses a published event and reports whether it is one a
// subscriber should see: a change of a valid tenant, or a mark. Replicas
// of versions without marks ignore them like any unknown type.
func decodeEvent(payload string) (store.Event, bool) {
	var e store.Event
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return e, false
	}
	switch e.Type {
	case store.EventCreated, store.EventUpdated, store.EventDeleted:
		return e, e.Mark == "" && tenant.ValidID(e.TenantID)
	case store.EventSync:
		return e, e.TenantID == "" && store.ValidKey(e.Mark) == nil
	}
	return e, false
}

// isTimeout reports whether err is a read that reached its deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// refused reports whether err is an error reply of Redis that says the
// subscription itself is not allowed, rather than that the node or the
// cluster is unavailable for now.
func refused(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !topologyError(err)
}
