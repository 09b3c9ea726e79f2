package redisstore_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/redisstore"
)

// TestLeaseMatchesMemstore replays one random sequence of leases, give-backs,
// single requests and pauses on redisstore (over miniredis) and on
// memstore, both on the same fake clock, and requires identical answers:
// the Lua script and the Go function are one algorithm.
func TestLeaseMatchesMemstore(t *testing.T) {
	ctx := t.Context()
	rs, m, _, clock := newMiniredis(t)
	ms := memstore.New(memstore.Config{Clock: clock.Now})
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		if rng.IntN(3) == 0 {
			m.SetTime(clock.Advance(time.Duration(rng.Int64N(int64(3 * time.Second)))))
		}
		limit := []int{1, 7, 60, 1000}[rng.IntN(4)]
		key := fmt.Sprintf("k%d-%d", rng.IntN(3), limit)
		if rng.IntN(4) == 0 {
			want, err := ms.Allow(ctx, "acme", key, limit)
			require.NoError(t, err)
			got, err := rs.Allow(ctx, "acme", key, limit)
			require.NoError(t, err)
			require.Equal(t, want, got, "request %d", i)
			continue
		}
		n, unused := rng.IntN(limit+2), rng.IntN(limit/2+1)
		want, err := ms.Lease(ctx, "acme", key, limit, n, unused)
		require.NoError(t, err)
		got, err := rs.Lease(ctx, "acme", key, limit, n, unused)
		require.NoError(t, err)
		require.Equal(t, want, got, "lease %d: %d giving back %d", i, n, unused)
	}
}

// testLeaseRoundTrips checks that a lease, giving back included, is one
// round trip, and that an unlimited tenant's costs none.
func testLeaseRoundTrips(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	c := &counter{}
	rdb.AddHook(c)
	s := redisstore.New(rdb, redisstore.Config{})
	require.NoError(t, s.LoadScripts(ctx))
	for _, op := range []struct {
		name               string
		limit, want, given int
		trips              int64
	}{
		{"lease", 100, 10, 0, 1},
		{"lease giving back", 100, 10, 4, 1},
		{"giving back only", 100, 0, 6, 1},
		{"unlimited", 0, 10, 0, 0},
	} {
		c.n.Store(0)
		_, err := s.Lease(ctx, "acme", "k", op.limit, op.want, op.given)
		require.NoError(t, err, op.name)
		assert.Equal(t, op.trips, c.n.Load(), "round trips of %s", op.name)
	}
}

func TestLeaseRoundTripsMiniredis(t *testing.T) {
	_, _, rdb, _ := newMiniredis(t)
	testLeaseRoundTrips(t, rdb)
}

func TestLeaseRoundTripsRedis(t *testing.T) {
	testLeaseRoundTrips(t, testredis.Standalone(t))
}

func TestLeaseRoundTripsCluster(t *testing.T) {
	testLeaseRoundTrips(t, testredis.Cluster(t))
}
