package migrate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
)

// backend is one Redis the tests run against, with the strategy forced.
type backend struct {
	name      string
	connect   func(t *testing.T) redis.UniversalClient
	crossSlot bool
}

func miniClient(t *testing.T) redis.UniversalClient {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var backends = []backend{
	{"miniredis/script", miniClient, false},
	{"miniredis/cross-slot", miniClient, true},
	{"redis/script", func(t *testing.T) redis.UniversalClient { return testredis.Standalone(t) }, false},
	{"redis/cross-slot", func(t *testing.T) redis.UniversalClient { return testredis.Standalone(t) }, true},
	{"cluster", func(t *testing.T) redis.UniversalClient { return testredis.Cluster(t) }, true},
}

// forEachBackend runs fn once per backend as a subtest.
// options is a Config with the tests' hooks.
type options struct {
	Config
	hooks
}

// runWith is Run with the hooks of o.
func runWith(ctx context.Context, rdb redis.UniversalClient, o options) (Result, error) {
	return run(ctx, rdb, o.Config, o.hooks)
}

func forEachBackend(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient, opts options)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			fn(t, b.connect(t), options{hooks: hooks{crossSlot: b.crossSlot}})
		})
	}
}

// allKeys lists every key, on every master of a cluster.
func allKeys(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	collect := func(c *redis.Client) error {
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			out = append(out, iter.Val())
		}
		return iter.Err()
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var (
			mu  sync.Mutex // masters are visited concurrently
			all [][]string
		)
		require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			var mine []string
			iter := m.Scan(ctx, 0, "*", 1000).Iterator()
			for iter.Next(ctx) {
				mine = append(mine, iter.Val())
			}
			mu.Lock()
			all = append(all, mine)
			mu.Unlock()
			return iter.Err()
		}))
		for _, a := range all {
			out = append(out, a...)
		}
	} else {
		require.NoError(t, collect(rdb.(*redis.Client)))
	}
	slices.Sort(out)
	return out
}

func TestRunMovesKeysWithTTLAndIndexes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		now := time.Now()
		require.NoError(t, rdb.Set(ctx, "client:a", `{"client_id":"a"}`, time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, "client:b", `{"client_id":"b"}`, 0).Err())
		require.NoError(t, rdb.Set(ctx, "session:s1", `{"userId":"u"}`, 24*time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, "rate-limit:r1", "42", time.Minute).Err())
		require.NoError(t, rdb.Set(ctx, "other:x", "stays", 0).Err())
		require.NoError(t, rdb.Set(ctx, keys.Client("default", "c"), "already there", 0).Err())

		res, err := runWith(ctx, rdb, opts)
		require.NoError(t, err)
		assert.Equal(t, Result{Scanned: 4, Moved: 4}, res)

		for k, want := range map[string]struct {
			value string
			ttl   time.Duration
		}{
			"client:a":      {`{"client_id":"a"}`, time.Hour},
			"client:b":      {`{"client_id":"b"}`, -1},
			"session:s1":    {`{"userId":"u"}`, 24 * time.Hour},
			"rate-limit:r1": {"42", time.Minute},
		} {
			target := keys.Tenant("default", k)
			assert.Equal(t, want.value, rdb.Get(ctx, target).Val(), k)
			ttl := rdb.PTTL(ctx, target).Val()
			if want.ttl < 0 {
				assert.Equal(t, time.Duration(-1), ttl, "%s keeps no TTL", k)
			} else {
				assert.InDelta(t, want.ttl.Seconds(), ttl.Seconds(), 1, "%s keeps its TTL to the second", k)
			}
			assert.Zero(t, rdb.Exists(ctx, k).Val(), "%s is gone", k)
		}
		assert.Equal(t, "stays", rdb.Get(ctx, "other:x").Val())
		assert.Equal(t, "already there", rdb.Get(ctx, keys.Client("default", "c")).Val())

		clients := rdb.ZRangeWithScores(ctx, keys.Clients("default"), 0, -1).Val()
		require.Len(t, clients, 2)
		assert.Equal(t, "a", clients[0].Member)
		assert.InDelta(t, float64(now.Add(time.Hour).UnixMilli()), clients[0].Score, 1000)
		assert.Equal(t, "b", clients[1].Member)
		assert.True(t, math.IsInf(clients[1].Score, 1), "a client without TTL never expires")
		sessions := rdb.ZRangeWithScores(ctx, keys.Sessions("default"), 0, -1).Val()
		require.Len(t, sessions, 1)
		assert.Equal(t, "s1", sessions[0].Member)
		assert.InDelta(t, float64(now.Add(24*time.Hour).UnixMilli()), sessions[0].Score, 1000)
		// A set lives at least as long as its newest member, as the store
		// keeps it; a member without TTL makes it persistent.
		assert.InDelta(t, (24 * time.Hour).Seconds(), rdb.PTTL(ctx, keys.Sessions("default")).Val().Seconds(), 1)
		assert.Equal(t, time.Duration(-1), rdb.PTTL(ctx, keys.Clients("default")).Val())

		again, err := runWith(ctx, rdb, opts)
		require.NoError(t, err)
		assert.Equal(t, Result{}, again, "a second run moves nothing")
		assert.Contains(t, again.String(), "nothing to migrate")
	})
}

func TestRunExtendsStoreIndexTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		set := keys.Sessions("default")
		// A set written by the store: one live session, expiring with it.
		require.NoError(t, rdb.ZAdd(ctx, set, redis.Z{Score: float64(time.Now().Add(time.Minute).UnixMilli()), Member: "live"}).Err())
		require.NoError(t, rdb.PExpire(ctx, set, time.Minute).Err())
		require.NoError(t, rdb.Set(ctx, "session:old", "x", 2*time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, "session:short", "y", time.Second*30).Err())

		_, err := runWith(ctx, rdb, opts)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"live", "old", "short"}, rdb.ZRange(ctx, set, 0, -1).Val())
		assert.InDelta(t, (2 * time.Hour).Seconds(), rdb.PTTL(ctx, set).Val().Seconds(), 1, "extended, never shortened")
	})
}

func TestRunNeverOverwrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		target := keys.Client("default", "a")
		require.NoError(t, rdb.Set(ctx, "client:a", "legacy", time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, target, "current", 2*time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, "client:b", "moves", 0).Err())

		for run := range 2 {
			res, err := runWith(ctx, rdb, opts)
			require.NoError(t, err)
			assert.Equal(t, int64(1), res.Conflicts, "run %d", run)
			assert.Equal(t, []string{"client:a"}, res.ConflictKeys)
			assert.Equal(t, int64(1-run), res.Moved, "run %d", run)
			assert.Contains(t, res.String(), "1 conflict left in place")
		}
		assert.Equal(t, "current", rdb.Get(ctx, target).Val(), "the target is unchanged")
		assert.InDelta(t, 2*time.Hour.Seconds(), rdb.PTTL(ctx, target).Val().Seconds(), 1)
		assert.Equal(t, "legacy", rdb.Get(ctx, "client:a").Val(), "the legacy key stays")
		assert.Equal(t, "moves", rdb.Get(ctx, keys.Client("default", "b")).Val())
	})
}

func TestRunFinishesIdenticalCopy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		require.NoError(t, rdb.Set(ctx, "session:s", "same", time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, keys.Session("default", "s"), "same", time.Hour).Err())

		res, err := runWith(ctx, rdb, opts)
		require.NoError(t, err)
		assert.Equal(t, Result{Scanned: 1, Skipped: 1}, res)
		assert.Zero(t, rdb.Exists(ctx, "session:s").Val(), "the leftover legacy key is removed")
		assert.Equal(t, "same", rdb.Get(ctx, keys.Session("default", "s")).Val())
		assert.Equal(t, []string{"s"}, rdb.ZRange(ctx, keys.Sessions("default"), 0, -1).Val())
	})
}

func TestRunDryRunChangesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		require.NoError(t, rdb.Set(ctx, "client:a", "a", time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, "client:b", "b", 0).Err())
		require.NoError(t, rdb.Set(ctx, "session:same", "x", 0).Err())
		require.NoError(t, rdb.Set(ctx, keys.Session("default", "same"), "x", 0).Err())
		require.NoError(t, rdb.Set(ctx, "rate-limit:c", "1", 0).Err())
		require.NoError(t, rdb.Set(ctx, keys.RateLimit("default", "c"), "2", 0).Err())
		before := allKeys(t, rdb)

		opts.DryRun = true
		res, err := runWith(ctx, rdb, opts)
		require.NoError(t, err)
		assert.Equal(t, Result{DryRun: true, Scanned: 4, Moved: 2, Skipped: 1, Conflicts: 1,
			ConflictKeys: []string{"rate-limit:c"}}, res)
		assert.Contains(t, res.String(), "dry run")
		assert.Equal(t, before, allKeys(t, rdb))
	})
}

// seed writes n legacy clients with distinct values and TTLs.
func seed(t *testing.T, rdb redis.UniversalClient, n int) {
	t.Helper()
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.Set(ctx, "client:"+strconv.Itoa(i), "v"+strconv.Itoa(i), time.Hour+time.Duration(i)*time.Second)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
}

// assertAllMoved checks that every seeded key exists exactly once, at its
// new name, with its value, TTL and index entry.
func assertAllMoved(t *testing.T, rdb redis.UniversalClient, n int) {
	t.Helper()
	ctx := context.Background()
	got := allKeys(t, rdb)
	want := []string{keys.Clients("default")}
	for i := range n {
		want = append(want, keys.Client("default", strconv.Itoa(i)))
	}
	slices.Sort(want)
	require.Equal(t, want, got, "every key exactly once, no legacy key left")
	for i := range n {
		k := keys.Client("default", strconv.Itoa(i))
		assert.Equal(t, "v"+strconv.Itoa(i), rdb.Get(ctx, k).Val())
		assert.InDelta(t, (time.Hour + time.Duration(i)*time.Second).Seconds(), rdb.PTTL(ctx, k).Val().Seconds(), 2)
	}
	assert.Equal(t, int64(n), rdb.ZCard(ctx, keys.Clients("default")).Val())
}

func TestRunResumesAfterCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		const n = 1000
		seed(t, rdb, n)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts.BatchSize = 50
		first := opts
		first.Progress = func(r Result) {
			if r.Scanned >= 300 {
				cancel()
			}
		}
		res1, err := runWith(ctx, rdb, first)
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, res1.Moved, int64(n), "the run stopped half-way")
		assert.Positive(t, res1.Moved)

		res2, err := runWith(context.Background(), rdb, opts)
		require.NoError(t, err)
		assert.Zero(t, res2.Conflicts)
		assert.Equal(t, int64(n), res1.Moved+res2.Moved+res2.Skipped)
		assertAllMoved(t, rdb, n)
	})
}

func TestRunResumesBetweenRestoreAndUnlink(t *testing.T) {
	for _, b := range backends {
		if !b.crossSlot {
			continue // the script path has no such window
		}
		t.Run(b.name, func(t *testing.T) {
			rdb := b.connect(t)
			const n = 600
			seed(t, rdb, n)
			var batches atomic.Int32 // masters run concurrently on a cluster
			boom := errors.New("crash between RESTORE and UNLINK")
			opts := options{Config: Config{BatchSize: 100}, hooks: hooks{crossSlot: true, afterRestore: func() error {
				if batches.Add(1) == 3 {
					return boom
				}
				return nil
			}}}
			_, err := runWith(context.Background(), rdb, opts)
			require.ErrorIs(t, err, boom)

			opts.afterRestore = nil
			res, err := runWith(context.Background(), rdb, opts)
			require.NoError(t, err)
			assert.Zero(t, res.Conflicts)
			assert.Positive(t, res.Skipped, "the interrupted batch is finished as a resumed move")
			assertAllMoved(t, rdb, n)
		})
	}
}

func TestRunKeepsWriteDuringCrossSlotMove(t *testing.T) {
	for _, b := range backends {
		if !b.crossSlot {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			rdb := b.connect(t)
			ctx := context.Background()
			require.NoError(t, rdb.Set(ctx, "client:w", "before", time.Hour).Err())
			opts := options{hooks: hooks{crossSlot: true, afterRestore: func() error {
				return rdb.Set(ctx, "client:w", "after", time.Hour).Err()
			}}}
			res, err := runWith(ctx, rdb, opts)
			require.NoError(t, err)
			assert.Equal(t, Result{Scanned: 1, Skipped: 1}, res)
			assert.Equal(t, "after", rdb.Get(ctx, "client:w").Val(), "the write is kept")
			assert.Zero(t, rdb.Exists(ctx, keys.Client("default", "w")).Val(), "the stale copy is rolled back")

			opts.afterRestore = nil
			res, err = runWith(ctx, rdb, opts)
			require.NoError(t, err)
			assert.Equal(t, Result{Scanned: 1, Moved: 1}, res)
			assert.Equal(t, "after", rdb.Get(ctx, keys.Client("default", "w")).Val())
		})
	}
}

func TestRunPatternsAndTenant(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		require.NoError(t, rdb.Set(ctx, "client:a", "a", 0).Err())
		require.NoError(t, rdb.Set(ctx, "custom:x", "x", 0).Err())
		require.NoError(t, rdb.Set(ctx, keys.Client("acme", "z"), "z", 0).Err())
		opts.Patterns = []string{"custom:*", "*"}
		opts.TenantID = "acme"
		_, err := runWith(ctx, rdb, opts)
		require.ErrorIs(t, err, ErrConfig, "a tenant other than default must exist")
		assert.Equal(t, "a", rdb.Get(ctx, "client:a").Val(), "nothing moved")
		require.NoError(t, rdb.Set(ctx, keys.Metadata("acme"), `{"id":"acme"}`, 0).Err())
		res, err := runWith(ctx, rdb, opts)
		require.NoError(t, err)
		assert.Equal(t, int64(2), res.Moved, "tenant keys are never moved, even by *")
		assert.Equal(t, "x", rdb.Get(ctx, keys.Tenant("acme", "custom:x")).Val())
		assert.Equal(t, "a", rdb.Get(ctx, keys.Client("acme", "a")).Val())
		assert.Equal(t, "z", rdb.Get(ctx, keys.Client("acme", "z")).Val())
	})
}

func TestRunRejectsBadConfig(t *testing.T) {
	rdb := miniClient(t)
	for _, cfg := range []Config{
		{BatchSize: -1},
		{BatchSize: MaxBatchSize + 1},
		{TenantID: "Not-A-Tenant"},
		{TenantID: "admin"},
		{Patterns: []string{" "}},
	} {
		_, err := Run(context.Background(), rdb, cfg)
		assert.ErrorIs(t, err, ErrConfig, "%+v", cfg)
	}
}

func TestResultString(t *testing.T) {
	for _, tc := range []struct {
		res  Result
		want string
	}{
		{Result{}, "no legacy keys found: nothing to migrate, moved 0"},
		{Result{DryRun: true}, "dry run: no legacy keys found, nothing to migrate"},
		{Result{Scanned: 3, Moved: 2, Skipped: 1}, "3 legacy keys found: moved 2, skipped 1 (already migrated or gone)"},
		{Result{Scanned: 2, Conflicts: 2}, "2 legacy keys found: moved 0, skipped 0 (already migrated or gone), 2 conflicts left in place"},
		{Result{DryRun: true, Scanned: 2, Moved: 1, Conflicts: 1}, "dry run: 2 legacy keys found; would move 1, 0 already migrated, 1 conflict left in place"},
		{Result{Scanned: 2, Moved: 1, Refused: 1}, "2 legacy keys found: moved 1, skipped 0 (already migrated or gone), 1 key the store refuses left in place"},
		{Result{DryRun: true, Scanned: 4, Conflicts: 1, Refused: 3}, "dry run: 4 legacy keys found; would move 0, 0 already migrated, 1 conflict left in place, 3 keys the store refuses left in place"},
	} {
		assert.Equal(t, tc.want, tc.res.String(), fmt.Sprintf("%+v", tc.res))
	}
}
