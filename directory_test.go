package tenancy

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// backends are the Redis servers the flood tests run on: miniredis, and
// the real server when one is configured. Each returns the client this
// replica uses and a second one, for "another replica".
var backends = []struct {
	name    string
	connect func(t *testing.T) (mine, other redis.UniversalClient)
}{
	{"miniredis", func(t *testing.T) (redis.UniversalClient, redis.UniversalClient) {
		mine := fakeRedis(t)
		other := redis.NewClient(&redis.Options{Addr: mine.Options().Addr})
		t.Cleanup(func() { _ = other.Close() })
		return mine, other
	}},
	{"redis", func(t *testing.T) (redis.UniversalClient, redis.UniversalClient) {
		mine := testredis.Standalone(t)
		other := redis.NewClient(&redis.Options{Addr: mine.Options().Addr})
		t.Cleanup(func() { _ = other.Close() })
		return mine, other
	}},
}

// floodResult is what a flood saw: the statuses of each kind of request,
// and the Redis commands this replica sent meanwhile.
type floodResult struct {
	statuses map[string]map[int]int
	commands int64
}

// flood sends requests concurrent requests for made-up tenants (ids of
// them, each many times), and after every 50th one a request for each of
// real; target returns the host and header of a request. A flood during
// which s's subscription was made again (a reset, which drops every cache
// and so costs reads of its own, as a loaded machine's health checks may
// cause) is sent again, up to three times: the commands counted are a
// flood's alone.
func flood(t *testing.T, s *Service, h http.Handler, counter *commandCounter, requests, ids int, real []string,
	target func(name string) (host string, header []string)) floodResult {
	t.Helper()
	var measuring atomic.Bool
	var resets atomic.Int64
	s.OnEvent(func(e store.Event) {
		if e.Type == store.EventReset && measuring.Load() {
			resets.Add(1)
		}
	})
	for range 3 {
		resets.Store(0)
		measuring.Store(true)
		res := floodOnce(h, counter, requests, ids, real, target)
		measuring.Store(false)
		if resets.Load() == 0 {
			return res
		}
		t.Logf("the subscription was made again during the flood (%d commands): flooding again", res.commands)
	}
	t.Fatal("the subscription was made again during every flood")
	return floodResult{}
}

func floodOnce(h http.Handler, counter *commandCounter, requests, ids int, real []string,
	target func(name string) (host string, header []string)) floodResult {
	var next atomic.Int64
	var mu sync.Mutex
	res := floodResult{statuses: map[string]map[int]int{"made-up": {}}}
	for _, r := range real {
		res.statuses[r] = map[int]int{}
	}
	before := counter.n.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			local := map[string]map[int]int{}
			count := func(kind string, code int) {
				if local[kind] == nil {
					local[kind] = map[int]int{}
				}
				local[kind][code]++
			}
			for {
				i := next.Add(1)
				if i > int64(requests) {
					break
				}
				host, header := target(fmt.Sprintf("flood-%d", i%int64(ids)))
				count("made-up", get(h, host, "/mcp", header...).Code)
				if i%50 == 0 {
					for _, r := range real {
						host, header := target(r)
						count(r, get(h, host, "/mcp", header...).Code)
					}
				}
			}
			mu.Lock()
			for kind, m := range local {
				for code, n := range m {
					res.statuses[kind][code] += n
				}
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.commands = counter.n.Load() - before
	return res
}

// TestFloodOfMadeUpTenantIDs is the flood of made-up tenant IDs through the
// whole service, on miniredis and the real Redis: 10,000 concurrent
// requests over 2,000 IDs, with a miss budget the flood alone would spend
// at once. A tenant this replica never read (cold), one created on another
// replica just before the flood (fresh) and one changed there (edited) are
// served throughout; the made-up IDs get 404 and cost Redis nothing.
func TestFloodOfMadeUpTenantIDs(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			mine, other := b.connect(t)
			elsewhere := redisstore.New(other, redisstore.Config{}).Tenants()
			for _, id := range []string{"cold", "edited"} {
				_, err := elsewhere.Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
				require.NoError(t, err)
			}
			counter := &commandCounter{}
			mine.AddHook(counter)
			// The usage of the tenants served is written once an
			// UsageInterval: not within the flood, however long it takes.
			s := newService(t, Config{Redis: mine, MultiTenant: true, Identification: ByHeader, UsageInterval: time.Hour,
				Cache: middleware.CacheConfig{MissesPerSecond: 50}})
			waitSubscribed(t, s)
			var edited atomic.Bool
			s.OnEvent(func(e store.Event) {
				if e.Type == store.EventUpdated && e.TenantID == "edited" {
					edited.Store(true)
				}
			})

			_, err := elsewhere.Create(ctx, &tenant.Tenant{ID: "fresh", Name: "fresh", Status: tenant.StatusActive})
			require.NoError(t, err)
			_, err = elsewhere.Update(ctx, &tenant.Tenant{ID: "edited", Name: "Edited", Status: tenant.StatusActive})
			require.NoError(t, err)
			// The flood starts once both events have reached this replica
			// and the reads they start have come back.
			require.Eventually(t, func() bool {
				return edited.Load() && s.Directory().Presence("fresh") == middleware.Exists && s.Directory().Stats().Unsettled == 0
			}, 10*time.Second, time.Millisecond, "the events reach this replica")

			res := flood(t, s, s.Middleware(whoami), counter, 10_000, 2_000, []string{"cold", "fresh", "edited"},
				func(name string) (string, []string) { return "seed.example.com", []string{"X-Tenant-ID", name} })
			t.Logf("%s: statuses %v, Redis commands during the flood %d, cache %+v", b.name, res.statuses, res.commands, s.Cache().Stats())
			assert.Equal(t, map[int]int{404: 10_000}, res.statuses["made-up"], "made-up IDs: 404 only")
			for _, id := range []string{"cold", "fresh", "edited"} {
				assert.Equal(t, map[int]int{200: 200}, res.statuses[id], "%s served throughout", id)
			}
			// cold is read once; fresh and edited were read when their
			// events came. Nothing else reaches Redis.
			assert.LessOrEqual(t, res.commands, int64(1), "Redis commands during 10,600 requests; the last: %v", counter.recent())
		})
	}
}

// TestFloodOfMadeUpCustomDomains is the same flood over custom domains in
// subdomain mode: a real custom domain this replica never read, and one
// created on another replica just before the flood, are served
// throughout, while 2,000 made-up domains get 400 without a Redis command.
func TestFloodOfMadeUpCustomDomains(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			mine, other := b.connect(t)
			elsewhere := redisstore.New(other, redisstore.Config{}).Tenants()
			_, err := elsewhere.Create(ctx, &tenant.Tenant{ID: "cold", Name: "cold", Domain: "mcp.cold.example", Status: tenant.StatusActive})
			require.NoError(t, err)
			counter := &commandCounter{}
			mine.AddHook(counter)
			s := newService(t, Config{Redis: mine, MultiTenant: true, BaseDomain: "seed.example.com", UsageInterval: time.Hour,
				Cache: middleware.CacheConfig{MissesPerSecond: 50}})
			waitSubscribed(t, s)

			_, err = elsewhere.Create(ctx, &tenant.Tenant{ID: "fresh", Name: "fresh", Domain: "mcp.fresh.example", Status: tenant.StatusActive})
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				return s.Directory().Domains().Presence("mcp.fresh.example") == middleware.Exists && s.Directory().Stats().Unsettled == 0
			}, 10*time.Second, time.Millisecond, "the created event reaches this replica")

			res := flood(t, s, s.Middleware(whoami), counter, 10_000, 2_000, []string{"mcp.cold.example", "mcp.fresh.example", "cold.seed.example.com"},
				func(name string) (string, []string) {
					if len(name) > 6 && name[:6] == "flood-" {
						return name + ".example.net", nil
					}
					return name, nil
				})
			t.Logf("%s: statuses %v, Redis commands during the flood %d", b.name, res.statuses, res.commands)
			assert.Equal(t, map[int]int{400: 10_000}, res.statuses["made-up"], "made-up domains: 400 only")
			for _, host := range []string{"mcp.cold.example", "mcp.fresh.example", "cold.seed.example.com"} {
				assert.Equal(t, map[int]int{200: 200}, res.statuses[host], "%s served throughout", host)
			}
			// mcp.cold.example costs a domain read and a tenant read,
			// mcp.fresh.example a domain read (its tenant was read when
			// its event came); nothing else reaches Redis.
			assert.LessOrEqual(t, res.commands, int64(3), "Redis commands during 10,600 requests; the last: %v", counter.recent())
		})
	}
}
