package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
)

// testOwnerIndex checks the owners' hash behind the per-owner limit: one
// round trip per operation, an owner's entry leaves with its last session,
// the lists of owners who never come back are pruned by later admissions,
// and the hash lives as long as the sessions it lists.
func testOwnerIndex(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	const ttl = time.Hour
	c := &counter{}
	rdb.AddHook(c)
	s := redisstore.New(rdb, redisstore.Config{SessionTTL: ttl})
	require.NoError(t, s.LoadScripts(ctx))
	createTenants(t, s, "acme")
	ss := s.Sessions()
	alice := store.Owner{Issuer: "https://idp.example", Subject: "alice"}
	limits := store.SessionLimits{MaxSessions: 100, PerOwner: 3}
	idx := keys.SessionOwners("acme")

	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"Admit", func() error { _, err := ss.Admit(ctx, "acme", "s1", alice, limits); return err }},
		{"Touch", func() error { return ss.Touch(ctx, "acme", "s1") }},
		{"Delete", func() error { return ss.Delete(ctx, "acme", "s1") }},
	} {
		c.n.Store(0)
		require.NoError(t, op.run(), op.name)
		assert.Equal(t, int64(1), c.n.Load(), "round trips of %s", op.name)
	}
	n, err := rdb.Exists(ctx, idx).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the owner's last session took its entry, and the hash, along")

	// bob's sessions end without Delete (their records are removed behind
	// the store's back, as expiry would): his entry stays until an
	// admission picks it to prune. alice's admissions pick among two
	// entries, so a few dozen of them miss bob's with negligible odds.
	bob := store.Owner{Subject: "bob"}
	for i := range 2 {
		id := fmt.Sprintf("b%d", i)
		_, err := ss.Admit(ctx, "acme", id, bob, limits)
		require.NoError(t, err)
		require.NoError(t, rdb.Del(ctx, keys.Session("acme", id)).Err())
		require.NoError(t, rdb.ZRem(ctx, keys.Sessions("acme"), id).Err())
	}
	require.True(t, rdb.HExists(ctx, idx, bob.Field()).Val())
	for i := range 40 {
		_, err := ss.Admit(ctx, "acme", fmt.Sprintf("a%d", i), alice, limits)
		require.NoError(t, err)
		require.NoError(t, ss.Delete(ctx, "acme", fmt.Sprintf("a%d", i)))
		_, err = ss.Admit(ctx, "acme", "keep", alice, limits) // alice keeps an entry
		if i == 0 {
			require.NoError(t, err)
		}
		if !rdb.HExists(ctx, idx, bob.Field()).Val() {
			break
		}
	}
	assert.False(t, rdb.HExists(ctx, idx, bob.Field()).Val(), "an owner who left is pruned")

	// The hash expires with the sessions and a touch extends it.
	pttl, err := rdb.PTTL(ctx, idx).Result()
	require.NoError(t, err)
	assert.InDelta(t, ttl.Seconds(), pttl.Seconds(), 5)
	require.NoError(t, rdb.PExpire(ctx, idx, ttl/2).Err())
	require.NoError(t, ss.Touch(ctx, "acme", "keep"))
	pttl, err = rdb.PTTL(ctx, idx).Result()
	require.NoError(t, err)
	assert.InDelta(t, ttl.Seconds(), pttl.Seconds(), 5, "Touch extends the owners' hash")
}

func TestOwnerIndexMiniredis(t *testing.T) {
	_, _, rdb, _ := newMiniredis(t)
	testOwnerIndex(t, rdb)
}

func TestOwnerIndexRedis(t *testing.T) {
	testOwnerIndex(t, testredis.Standalone(t))
}

func TestOwnerIndexCluster(t *testing.T) {
	testOwnerIndex(t, testredis.Cluster(t))
}
