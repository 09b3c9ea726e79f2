package middleware

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// limitedTenant returns an active tenant limited to limit requests a minute.
func limitedTenant(id string, limit int) *tenant.Tenant {
	return &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: limit}}
}

// serveAs serves one request of tn through h with the given context.
func serveAs(ctx context.Context, h http.Handler, tn *tenant.Tenant) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/mcp", nil)
	req = req.WithContext(tenant.NewContext(req.Context(), tn))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRateLimitHangUpsLiftNoLimit checks that a request whose context is
// over (the client hung up, or its deadline passed) is not taken for an
// outage of the limiter: before, the store call failed with the request's
// context error, which opened the fail-open breaker for every tenant.
func TestRateLimitHangUpsLiftNoLimit(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	for name, ctx := range map[string]context.Context{"canceled": canceled, "deadline exceeded": expired} {
		t.Run(name, func(t *testing.T) {
			clock := testclock.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
			st := memstore.New(memstore.Config{Clock: clock.Now})
			h := newLimited(t, st, RateLimitConfig{Now: clock.Now})
			victim, hang := limitedTenant("victim", 2), limitedTenant("hang", 2)
			for _, tn := range []*tenant.Tenant{victim, hang} {
				for range 2 {
					require.Equal(t, http.StatusOK, serveAs(context.Background(), h, tn).Code)
				}
			}
			require.Equal(t, http.StatusTooManyRequests, serveAs(context.Background(), h, victim).Code)

			for range 10 {
				assert.Equal(t, http.StatusTooManyRequests, serveAs(ctx, h, hang).Code, "the hang-up's own request is decided as usual")
				assert.Equal(t, http.StatusTooManyRequests, serveAs(context.Background(), h, victim).Code,
					"a hang-up of another tenant lifted the limit")
				assert.Equal(t, http.StatusTooManyRequests, serveAs(context.Background(), h, hang).Code,
					"a hang-up lifted its own tenant's limit")
			}
		})
	}
}

// brokenFor is a store whose limiter fails for one tenant only, as a
// cluster does when the shard of that tenant's slot is down.
type brokenFor struct {
	*memstore.Store
	id string
}

func (b brokenFor) Lease(ctx context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	if tenantID == b.id {
		return store.Lease{}, errors.New("dial tcp: connection refused")
	}
	return b.Store.Lease(ctx, tenantID, key, limit, want, unused)
}

// TestRateLimitOutageOfOneTenantFreesNoOther checks that a limiter failure
// seen by one tenant's requests lets that tenant through and nobody else.
func TestRateLimitOutageOfOneTenantFreesNoOther(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	st := brokenFor{memstore.New(memstore.Config{Clock: clock.Now}), "broken"}
	h := newLimited(t, st, RateLimitConfig{Now: clock.Now})
	victim, broken := limitedTenant("victim", 2), limitedTenant("broken", 2)
	for range 2 {
		require.Equal(t, http.StatusOK, serveAs(context.Background(), h, victim).Code)
	}
	for range 5 {
		assert.Equal(t, http.StatusOK, serveAs(context.Background(), h, broken).Code, "fail open for the tenant whose limiter fails")
		assert.Equal(t, http.StatusTooManyRequests, serveAs(context.Background(), h, victim).Code, "and for no other")
	}
}

// TestHangUpsUnderLoad sends a stream of hang-ups (a request written, the
// connection closed at once) for one tenant through a real HTTP server,
// while a client of another tenant limited to 60 a minute sends requests as
// fast as it can: that tenant's admitted count stays within its budget.
func TestHangUpsUnderLoad(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		testHangUpsUnderLoad(t, redisstore.New(rdb, redisstore.Config{}))
	})
	t.Run("redis", func(t *testing.T) {
		testHangUpsUnderLoad(t, redisstore.New(testredis.Standalone(t), redisstore.Config{}))
	})
}

func testHangUpsUnderLoad(t *testing.T, st *redisstore.Store) {
	const hangUps, victimRequests, limit = 2000, 600, 60
	tenants := newFakeTenants(*limitedTenant("hang", 1_000_000), *limitedTenant("victim", limit))
	withTenant, err := Tenant(TenantConfig{Resolver: headerResolver(t), Tenants: tenants,
		OnRefused: func(*http.Request, Refusal) {}})
	require.NoError(t, err)
	limited := newLimited(t, st, RateLimitConfig{})
	srv := httptest.NewServer(withTenant(limited))
	t.Cleanup(srv.Close)

	start := time.Now()
	var done atomic.Bool
	var wg sync.WaitGroup
	var sent atomic.Int64
	for range 4 {
		wg.Go(func() {
			for !done.Load() {
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					continue
				}
				_, _ = io.WriteString(c, "GET /mcp HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: hang\r\n\r\n")
				_ = c.Close()
				sent.Add(1)
			}
		})
	}
	// The victim sends victimRequests, ten times its budget, and goes on
	// while fewer than hangUps hang-ups have been sent.
	var admitted, refused, other atomic.Int64
	for range 2 {
		wg.Go(func() {
			for admitted.Load()+refused.Load()+other.Load() < victimRequests || sent.Load() < hangUps {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
				req.Header.Set("X-Tenant-ID", "victim")
				res, err := srv.Client().Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				switch res.StatusCode {
				case http.StatusOK:
					admitted.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
			done.Store(true)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The budget: the burst and one more request a second of the run (no
	// lease was outstanding when the run started).
	budget := int64(limit) + int64(elapsed/time.Second) + 1
	t.Logf("%d hang-ups in %v; victim: %d admitted (budget %d), %d refused, %d other",
		sent.Load(), elapsed, admitted.Load(), budget, refused.Load(), other.Load())
	assert.Positive(t, refused.Load(), "the victim was sent more than its budget")
	assert.LessOrEqual(t, admitted.Load(), budget, "hang-ups of another tenant lifted the victim's limit")
	assert.Zero(t, other.Load())
}

// newLimited returns echo behind RateLimit on st, with a quiet logger.
func newLimited(t testing.TB, st store.Leaser, cfg RateLimitConfig) http.Handler {
	cfg.Leaser = st
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mw, err := RateLimit(cfg)
	require.NoError(t, err)
	return mw(echo)
}
