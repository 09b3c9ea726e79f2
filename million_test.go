package tenancy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// TestMillionTenants measures the library at TENANCY_MILLION_TENANTS
// tenants (default 1,000,000; 1% suspended, 1% with a custom domain) on a
// cluster of three masters with a replica each: what the tenant index and
// the records cost Redis, how long a replica takes to know every ID (the
// store's listing alone, and the middleware's Directory holding them in a
// Bloom filter or exactly) and the memory that costs per tenant, and the
// latency of the admin listing with a cursor. A measurement, not a check:
// it runs only with TENANCY_MILLION=1.
//
//	TENANCY_MILLION=1 taskset -c 0,1 go test -run TestMillionTenants -v -timeout 60m .
func TestMillionTenants(t *testing.T) {
	if os.Getenv("TENANCY_MILLION") != "1" {
		t.Skip("a measurement: set TENANCY_MILLION=1 to run it")
	}
	n := envInt(t, "TENANCY_MILLION_TENANTS", 1_000_000)
	lc := testredis.StartCluster(t, testredis.ClusterConfig{})
	ctx := context.Background()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: lc.Addrs(), PoolSize: 64})
	t.Cleanup(func() { _ = rdb.Close() })
	s := redisstore.New(rdb, redisstore.Config{})

	id := func(i int) string { return fmt.Sprintf("tenant-%07d", i) }
	start := time.Now()
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range 64 {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				tn := &tenant.Tenant{ID: id(i), Name: "Tenant " + strconv.Itoa(i), Status: tenant.StatusActive}
				if i%100 == 7 {
					tn.Status = tenant.StatusSuspended
				}
				if i%100 == 42 {
					tn.Domain = id(i) + ".example.com"
				}
				if _, err := s.Tenants().Create(gctx, tn); err != nil {
					return err
				}
			}
		})
	}
	require.NoError(t, g.Wait())
	t.Logf("created %d tenants through Tenants.Create (64 at a time) in %v", n, time.Since(start).Round(time.Second))
	lc.WaitReplicated()

	// What Redis holds.
	master, err := rdb.MasterForKey(ctx, keys.Index)
	require.NoError(t, err)
	indexBytes, err := master.MemoryUsage(ctx, keys.Index, 0).Result()
	require.NoError(t, err)
	recordBytes, err := rdb.MemoryUsage(ctx, keys.Metadata(id(1))).Result()
	require.NoError(t, err)
	var used sync.Map
	require.NoError(t, rdb.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "memory", "replication").Result()
		if err != nil {
			return err
		}
		role := "master"
		if strings.Contains(info, "role:slave") {
			role = "replica"
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				b, _ := strconv.ParseInt(v, 10, 64)
				used.Store(c.Options().Addr, fmt.Sprintf("%s %.0f MiB", role, float64(b)/(1<<20)))
			}
		}
		return nil
	}))
	var nodes []string
	used.Range(func(k, v any) bool { nodes = append(nodes, fmt.Sprintf("%s %s", k, v)); return true })
	slices.Sort(nodes)
	t.Logf("redis: tenant:index %.1f MiB (%.0f bytes per tenant, one key on one master); a record %d bytes; used_memory: %s",
		float64(indexBytes)/(1<<20), float64(indexBytes)/float64(n), recordBytes, strings.Join(nodes, ", "))

	// A replica's start-up: the store's listing alone, then the
	// middleware's Directory, in a Bloom filter (the default above
	// 100,000 tenants) and exactly.
	for _, tc := range []struct {
		name string
		load func() (any, func() string)
	}{
		{"Tenants.TenantIDs (count only)", func() (any, func() string) {
			count := 0
			require.NoError(t, s.Tenants().TenantIDs(ctx, func(ids []string) error { count += len(ids); return nil }))
			require.Equal(t, n, count)
			return nil, func() string { return fmt.Sprintf("%d IDs", count) }
		}},
		{"Directory, default (filter above 100,000)", func() (any, func() string) {
			d := middleware.NewDirectory(s.Tenants(), middleware.DirectoryConfig{Logger: quiet})
			require.NoError(t, d.Load(ctx))
			return d, func() string { return directoryStats(d) }
		}},
		{"Directory, MaxExact 2,000,000", func() (any, func() string) {
			d := middleware.NewDirectory(s.Tenants(), middleware.DirectoryConfig{Logger: quiet, MaxExact: 2_000_000})
			require.NoError(t, d.Load(ctx))
			return d, func() string { return directoryStats(d) }
		}},
	} {
		var times []time.Duration
		var heap []float64
		var stats string
		for range 3 {
			before := heapInUse()
			begin := time.Now()
			held, describe := tc.load()
			times = append(times, time.Since(begin))
			heap = append(heap, float64(int64(heapInUse())-int64(before))/float64(n))
			stats = describe()
			runtime.KeepAlive(held)
		}
		slices.Sort(times)
		slices.Sort(heap)
		t.Logf("start-up, %s: %v (median of 3; %v to %v), heap %.1f bytes per tenant; %s",
			tc.name, times[1].Round(time.Millisecond), times[0].Round(time.Millisecond), times[2].Round(time.Millisecond), heap[1], stats)
	}

	// The admin listing: pages after random cursors.
	for _, limit := range []int{50, 1000} {
		var lat []time.Duration
		for range 200 {
			cursor := id(rand.IntN(n))
			begin := time.Now()
			page, _, err := s.Tenants().List(ctx, cursor, limit)
			lat = append(lat, time.Since(begin))
			require.NoError(t, err)
			require.NotEmpty(t, page)
		}
		slices.Sort(lat)
		t.Logf("List(cursor, %d) at %d tenants: p50 %v, p99 %v, max %v (200 random cursors)",
			limit, n, pct(lat, 50), pct(lat, 99), lat[len(lat)-1].Round(10*time.Microsecond))
	}
	begin, pages, cursor := time.Now(), 0, ""
	for {
		_, next, err := s.Tenants().List(ctx, cursor, 1000)
		require.NoError(t, err)
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	t.Logf("walking every tenant with List(cursor, 1000): %d pages in %v", pages, time.Since(begin).Round(time.Millisecond))
}

// directoryStats describes what d holds.
func directoryStats(d *middleware.Directory) string {
	st := d.Stats()
	return fmt.Sprintf("%d tenants (%d inactive), %d domains, approximate %v, filters %d bytes",
		st.Tenants, st.Inactive, st.Domains, st.Approximate, st.FilterBytes)
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
