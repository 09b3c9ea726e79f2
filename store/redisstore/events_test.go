package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventsTransport: tenant events use sharded pub/sub on a cluster (an
// event costs the one shard of the channel's slot) and classic pub/sub on
// a single node, for the publisher and the subscriber alike.
func TestEventsTransport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		client  func(t *testing.T) redis.UniversalClient
		publish string
		// subscribers counts the store's subscriptions to keys.Events, of
		// the kind it should use and of the other kind.
		subscribers func(ctx context.Context, rdb redis.UniversalClient) (want, other int64)
	}{
		{
			name:    "redis",
			client:  func(t *testing.T) redis.UniversalClient { return testredis.Standalone(t) },
			publish: "publish",
			subscribers: func(ctx context.Context, rdb redis.UniversalClient) (int64, int64) {
				return numsub(ctx, rdb, "pubsub", "numsub"), numsub(ctx, rdb, "pubsub", "shardnumsub")
			},
		},
		{
			name:    "cluster",
			client:  func(t *testing.T) redis.UniversalClient { return testredis.Cluster(t) },
			publish: "spublish",
			subscribers: func(ctx context.Context, rdb redis.UniversalClient) (int64, int64) {
				// Both questions go to the master of the channel's slot.
				master, err := rdb.(*redis.ClusterClient).MasterForKey(ctx, keys.Events)
				if err != nil {
					return -1, -1
				}
				return numsub(ctx, master, "pubsub", "shardnumsub"), numsub(ctx, master, "pubsub", "numsub")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := tc.client(t)
			c := &counter{}
			rdb.AddHook(c)
			s := redisstore.New(rdb, redisstore.Config{})
			ctx, cancel := context.WithCancel(t.Context())
			events := make(chan store.Event, 10)
			done := make(chan error, 1)
			go func() { done <- s.Subscribe(ctx, func(e store.Event) { events <- e }) }()
			defer func() {
				cancel()
				assert.ErrorIs(t, <-done, context.Canceled)
			}()
			require.Equal(t, store.EventReset, nextEvent(t, events).Type)

			want, other := tc.subscribers(ctx, rdb)
			assert.Equal(t, int64(1), want, "subscribed with the right kind")
			assert.Equal(t, int64(0), other, "and not with the other")

			_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "Acme", Status: tenant.StatusActive})
			require.NoError(t, err)
			require.Equal(t, store.Event{Type: store.EventCreated, TenantID: "acme"}, nextEvent(t, events))
			var sent []string
			for _, args := range c.args() {
				if args[0] == "publish" || args[0] == "spublish" {
					sent = append(sent, args[0]+" "+args[1])
				}
			}
			assert.Equal(t, []string{tc.publish + " " + keys.Events}, sent, "one publish per change")
		})
	}
}

// numsub returns the number of subscribers of keys.Events that rdb
// reports to PUBSUB NUMSUB or SHARDNUMSUB.
func numsub(ctx context.Context, rdb interface {
	Do(context.Context, ...any) *redis.Cmd
}, args ...any) int64 {
	v, err := rdb.Do(ctx, append(args, keys.Events)...).Slice()
	if err != nil || len(v) != 2 {
		return -1
	}
	n, _ := v[1].(int64)
	return n
}

// TestSubscribeMiniredis: miniredis has no sharded pub/sub; a single-node
// client uses the classic kind, which it has, and a change made through
// one Store reaches the subscription of another within the usual wait.
func TestSubscribeMiniredis(t *testing.T) {
	a, _, rdb, _ := newMiniredis(t)
	b := redisstore.New(rdb, redisstore.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan store.Event, 10)
	go func() { _ = a.Subscribe(ctx, func(e store.Event) { events <- e }) }()
	require.Equal(t, store.EventReset, nextEvent(t, events).Type)
	_, err := b.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "Acme", Status: tenant.StatusActive})
	require.NoError(t, err)
	select {
	case e := <-events:
		assert.Equal(t, store.Event{Type: store.EventCreated, TenantID: "acme"}, e)
	case <-time.After(followWait):
		t.Fatal("no event")
	}
}
