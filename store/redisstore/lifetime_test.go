package redisstore_test

import (
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLongestLifetimes: a lifetime of math.MaxInt64 (the usual "no end"
// of a time.Duration) is the longest lifetime, as memstore takes it, not
// a millisecond: rounding it up to whole milliseconds overflowed, and the
// grant, client or session expired at once. On the real servers only:
// miniredis keeps a lifetime as a time.Duration, which this one overflows.
func TestLongestLifetimes(t *testing.T) {
	t.Run("redis", func(t *testing.T) { testLongestLifetimes(t, testredis.Standalone(t)) })
	t.Run("cluster", func(t *testing.T) { testLongestLifetimes(t, testredis.Cluster(t)) })
}

func testLongestLifetimes(t *testing.T, rdb redis.UniversalClient) {
	{
		ctx := t.Context()
		const forever = time.Duration(math.MaxInt64)
		s := redisstore.New(rdb, redisstore.Config{ClientTTL: forever, SessionTTL: forever})
		createTenants(t, s, "acme")
		require.NoError(t, s.Grants().Put(ctx, "acme", store.GrantRefresh, "r1", []byte("v"), forever))
		require.NoError(t, s.Clients().Register(ctx, "acme", clientNamed("c1"), 0))
		_, err := s.Sessions().Create(ctx, "acme", "s1", "u", 0)
		require.NoError(t, err)
		require.NoError(t, s.Sessions().Touch(ctx, "acme", "s1"))
		for _, key := range []string{keys.OAuth("acme", "refresh", "r1"), keys.Client("acme", "c1"), keys.Session("acme", "s1"),
			keys.Clients("acme"), keys.Sessions("acme")} {
			// In milliseconds: PTTL's Duration would overflow.
			ms, err := rdb.Do(ctx, "pttl", key).Int64()
			require.NoError(t, err)
			assert.Greater(t, ms, (100 * 365 * 24 * time.Hour).Milliseconds(), "lifetime of %s", key)
		}
		_, err = s.Grants().Get(ctx, "acme", store.GrantRefresh, "r1")
		assert.NoError(t, err)
	}
}
