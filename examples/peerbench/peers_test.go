package peerbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/tenant"
)

// app is the handler behind every peer: it answers 200 with no header and
// no body, and checks nothing, so that what is measured is the peer.
var app = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// counter is a go-redis hook counting the commands and pipelines sent.
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// newPeers builds the peers on the real Redis when TENANCY_REDIS_ADDR is
// set (locked and emptied for this test), else on miniredis, and says
// which in the test log. Round trips are counted by the returned counter.
func newPeers(tb testing.TB) (*Peers, *counter) {
	tb.Helper()
	var rdb *redis.Client
	if _, ok := testredis.LookupAddr(tb); ok {
		rdb = testredis.Standalone(tb)
		tb.Logf("peerbench: real Redis at %s", rdb.Options().Addr)
	} else {
		m := miniredis.RunT(tb)
		rdb = redis.NewClient(&redis.Options{Addr: m.Addr()})
		tb.Cleanup(func() { _ = rdb.Close() })
		tb.Logf("peerbench: miniredis (set %s for the real Redis)", testredis.EnvAddr)
	}
	c := &counter{}
	rdb.AddHook(c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := New(ctx, rdb, app)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = p.Close() })
	return p, c
}

// TestPeersAnswer checks that every peer serves its tenant and refuses an
// ID that is not a tenant (dskit, which checks no existence, serves any
// well-formed ID), so that the benchmark compares middlewares that work.
func TestPeersAnswer(t *testing.T) {
	p, _ := newPeers(t)
	for _, name := range Names {
		peer := p.All[name]
		t.Run(name, func(t *testing.T) {
			var got *tenant.Tenant
			h := peer.Handler
			if name != "bare" && name != "dskit" {
				// Wrap the app's place: the tenant must reach it.
				h = rebuild(t, p, name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got, _ = tenant.FromContext(r.Context())
					if name == "floor" {
						got, _ = r.Context().Value(floorCtx).(*tenant.Tenant)
					}
				}))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, Request(peer.TenantID))
			assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
			if name != "bare" && name != "dskit" {
				require.NotNil(t, got, "the tenant reaches the handler")
				assert.Equal(t, peer.TenantID, got.ID)
			}
			if name == "tenancy-limited" {
				assert.Equal(t, "1073741824", w.Header().Get("RateLimit-Limit"))
			}
			w = httptest.NewRecorder()
			h.ServeHTTP(w, Request("nobody"))
			switch name {
			case "bare", "floor", "dskit":
				assert.Equal(t, http.StatusOK, w.Code, "%s checks no existence", name)
			default:
				assert.Equal(t, http.StatusNotFound, w.Code, "unknown tenant")
			}
		})
	}
}

// rebuild returns the peer name again, in front of next.
func rebuild(t *testing.T, p *Peers, name string, next http.Handler) http.Handler {
	t.Helper()
	switch name {
	case "floor":
		return floor(next)
	case "redis-get":
		return RedisGet(redisGet(p.rdb), next)
	case "ttl-map":
		return TTLMap(redisGet(p.rdb), time.Minute, next)
	case "tenancy":
		return p.tenant(next)
	case "tenancy-service", "tenancy-limited":
		return p.Service.Middleware(next)
	}
	t.Fatalf("no peer %q", name)
	return nil
}

// TestRoundTrips counts the Redis round trips per request of each peer at
// steady state: one for redis-get, none for the others, and for the
// rate-limited tenant of this module under 0.05 (leases).
func TestRoundTrips(t *testing.T) {
	p, c := newPeers(t)
	const n = 5000
	for _, tt := range []struct {
		name string
		max  float64
	}{
		{"redis-get", 1}, {"ttl-map", 0}, {"tenancy", 0}, {"tenancy-service", 0}, {"tenancy-limited", 0.05},
	} {
		peer := p.All[tt.name]
		req := Request(peer.TenantID)
		w := httptest.NewRecorder()
		for range 100 {
			peer.Handler.ServeHTTP(w, req)
		}
		before := c.n.Load()
		for range n {
			peer.Handler.ServeHTTP(w, req)
		}
		perRequest := float64(c.n.Load()-before) / n
		t.Logf("%-16s %.4f Redis round trips per request", tt.name, perRequest)
		assert.LessOrEqual(t, perRequest, tt.max, tt.name)
		if tt.name == "redis-get" {
			assert.Equal(t, 1.0, perRequest)
		}
	}
}

// BenchmarkPeers serves requests of each peer in process (a recorder
// reused, as the middleware package's benchmarks do). Run it through
// bench.sh, which alternates the order of the peers round by round and
// computes the ratios to bare and floor; ns/op alone mean little on a
// shared machine.
func BenchmarkPeers(b *testing.B) {
	p, _ := newPeers(b)
	names := Names
	if os.Getenv("PEERBENCH_REVERSE") == "1" {
		names = make([]string, len(Names))
		for i, n := range Names {
			names[len(Names)-1-i] = n
		}
	}
	for _, name := range names {
		peer := p.All[name]
		b.Run(name, func(b *testing.B) {
			req := Request(peer.TenantID)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				peer.Handler.ServeHTTP(w, req)
			}
			if w.Code != http.StatusOK {
				b.Fatalf("%s answered %d", name, w.Code)
			}
		})
	}
}
