package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
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

// followWait bounds the wait for a client to follow a new topology once
// the cluster is ok. The library needs about a second; go-redis alone
// would need ClusterStateReloadInterval, which the clients here set to an
// hour so that only the library can pass.
const followWait = 15 * time.Second

// staleClient returns a cluster client that reloads its slot map on its
// own only after an hour (or on a MOVED or READONLY answer).
func staleClient(t *testing.T, addrs []string) *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: time.Hour})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sameMaster returns a tenant ID whose keys live on the master of key.
func sameMaster(t *testing.T, lc *testredis.LocalCluster, key string) string {
	want := lc.MasterOf(key).Addr()
	for i := range 1000 {
		id := fmt.Sprintf("t%d", i)
		if lc.MasterOf(keys.Metadata(id)).Addr() == want {
			return id
		}
	}
	t.Fatalf("no tenant on the master of %s", key)
	return ""
}

// TestClusterFailover moves the master of the tenant events' slot twice,
// on a cluster of the test's own: first by a manual failover (the old
// master stays up, as a replica), then by killing the new master. Each
// time a sharded subscription must move to the slot's new master by
// itself, delivering a reset and then the events published afterwards,
// and a Store's commands must reach the new master, all within seconds of
// the cluster being ok.
func TestClusterFailover(t *testing.T) {
	lc := testredis.StartCluster(t, testredis.ClusterConfig{})
	ctx := t.Context()
	// Three clients, each used for one thing, so that each mechanism is
	// checked on its own: the subscriber's client sends no commands, and
	// the reader's client subscribes to nothing.
	sub := redisstore.New(staleClient(t, lc.Addrs()), redisstore.Config{})
	readerClient := staleClient(t, lc.Addrs())
	reader := redisstore.New(readerClient, redisstore.Config{})
	writer := redisstore.New(staleClient(t, lc.Addrs()), redisstore.Config{})

	events := make(chan store.Event, 100)
	var lastReset atomic.Int64 // unix nanoseconds
	subCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(subCtx, func(e store.Event) {
			if e.Type == store.EventReset {
				lastReset.Store(time.Now().UnixNano())
			}
			events <- e
		})
	}()
	t.Cleanup(func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
	require.Equal(t, store.EventReset, nextEvent(t, events).Type)

	id := sameMaster(t, lc, keys.Events)
	tn, err := writer.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
	require.NoError(t, err)
	require.Equal(t, store.Event{Type: store.EventCreated, TenantID: id}, nextEvent(t, events))
	_, err = reader.Tenants().Get(ctx, id)
	require.NoError(t, err)

	// update changes the tenant through writer until it succeeds: the
	// writer's own client follows the new topology too.
	update := func(name string) {
		t.Helper()
		tn.Name = name
		require.Eventually(t, func() bool {
			_, err := writer.Tenants().Update(ctx, tn)
			return err == nil
		}, followWait, 10*time.Millisecond, "update %s", name)
	}

	t.Run("manual failover", func(t *testing.T) {
		old, promoted := lc.Failover(keys.Events)
		require.True(t, old.Running())
		t.Logf("events' slot moved from %s to %s", old.Addr(), promoted.Addr())
		// The old master ends the sharded subscription (SUNSUBSCRIBE)
		// when it loses the slot; a subscriber that ignored that would
		// hear nothing more, with a healthy connection.
		require.Equal(t, store.EventReset, nextEvent(t, events).Type, "subscribed again")
		update("after manual failover")
		require.Equal(t, store.Event{Type: store.EventUpdated, TenantID: id}, nextChange(t, events))

		// The reader's read goes to the demoted master, which redirects
		// it (MOVED): go-redis reloads its slot map by itself then. The
		// next step starts from a reader that knows the new master.
		require.Eventually(t, func() bool {
			_, err := reader.Tenants().Get(ctx, id)
			m, merr := readerClient.MasterForKey(ctx, keys.Metadata(id))
			return err == nil && merr == nil && m.Options().Addr == promoted.Addr()
		}, followWait, 10*time.Millisecond)
	})

	t.Run("master killed", func(t *testing.T) {
		killed := lc.KillMaster(keys.Events)
		start := time.Now()
		lc.WaitOK()
		ok := time.Now()
		t.Logf("%s killed; cluster ok after %v", killed.Addr(), ok.Sub(start).Round(time.Millisecond))

		// The reader's commands reach the promoted replica, and find
		// everything written before the kill.
		require.Eventually(t, func() bool {
			got, err := reader.Tenants().Get(ctx, id)
			return err == nil && got.Name == "after manual failover"
		}, followWait, 10*time.Millisecond, "the reader follows the failover")
		t.Logf("reader served %v after the cluster was ok", time.Since(ok).Round(time.Millisecond))

		// The subscription found the new master by itself.
		require.Equal(t, store.EventReset, nextEvent(t, events).Type, "subscribed again")
		t.Logf("subscribed again %v after the cluster was ok", time.Unix(0, lastReset.Load()).Sub(ok).Round(time.Millisecond))
		update("after kill")
		require.Equal(t, store.Event{Type: store.EventUpdated, TenantID: id}, nextChange(t, events))
	})
}

// nextChange returns the next event that is not a reset: while the
// cluster settles, a subscription may be made more than once.
func nextChange(t *testing.T, events <-chan store.Event) store.Event {
	t.Helper()
	for {
		if e := nextEvent(t, events); e.Type != store.EventReset {
			return e
		}
	}
}

// nextEvent returns the next event, or fails after followWait.
func nextEvent(t *testing.T, events <-chan store.Event) store.Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(followWait):
		t.Fatal("no event")
		return store.Event{}
	}
}
