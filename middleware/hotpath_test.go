package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store/memstore"
)

// TestTenantCacheHitAllocations counts the allocations of a request whose
// tenant is cached: the request copy and the context value of
// r.WithContext, nothing else, in the modes that resolve without a
// rewrite; and none for the cache lookup itself.
func TestTenantCacheHitAllocations(t *testing.T) {
	sub, err := resolve.Subdomain("seed.example.com")
	require.NoError(t, err)
	for _, tt := range []struct {
		name     string
		resolver resolve.Resolver
		prepare  func(*http.Request)
	}{
		{"header", headerResolver(t), func(r *http.Request) { r.Header.Set("X-Tenant-ID", "acme") }},
		{"subdomain", sub, func(r *http.Request) { r.Host = "acme.seed.example.com" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := Tenant(TenantConfig{Resolver: tt.resolver, Tenants: newFakeTenants(activeTenant("acme"))})
			require.NoError(t, err)
			h := mw(noop)
			req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
			tt.prepare(req)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			allocs := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
			assert.Equal(t, 2.0, allocs)
		})
	}
	t.Run("cache lookup", func(t *testing.T) {
		c := NewCache(newFakeTenants(activeTenant("acme")), CacheConfig{})
		ctx := t.Context()
		_, err := c.Get(ctx, "acme")
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(200, func() { _, _ = c.Get(ctx, "acme") })
		assert.Equal(t, 0.0, allocs)
	})
}

// TestRateLimitFarUnderLimitAllocations checks that a tenant far under a
// limit of 1000 or more, whose RateLimit-Remaining is then the same number
// request after request, gets its headers without an allocation.
func TestRateLimitFarUnderLimitAllocations(t *testing.T) {
	clock := newFakeClock()
	st := memstore.New(memstore.Config{Clock: clock.Now})
	mw, err := RateLimit(RateLimitConfig{Leaser: st, Now: clock.Now})
	require.NoError(t, err)
	h := mw(noop)
	req := limitedRequest(limitedTenant("acme", 1_000_000))
	w := httptest.NewRecorder()
	// 1,000 requests a second against a limit of 1,000,000 a minute: the
	// budget refills faster than they spend it.
	serve := func() {
		clock.Advance(time.Millisecond)
		h.ServeHTTP(w, req)
	}
	for range 100 {
		serve()
	}
	allocs := testing.AllocsPerRun(200, serve)
	assert.Equal(t, 0.0, allocs)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "1000000", w.Header().Get("RateLimit-Limit"))
	assert.Equal(t, "1000000", w.Header().Get("RateLimit-Remaining"))
}

// TestCoarseClock checks that the coarse clock is never ahead of the
// monotonic clock, that it moves while it is read, and that it stops when
// nobody reads it, so that an idle process keeps no timer going.
func TestCoarseClock(t *testing.T) {
	var c coarseClock
	start := monotime()
	for range 1000 {
		got := c.Now()
		require.LessOrEqual(t, got, monotime(), "never ahead of the clock")
		require.GreaterOrEqual(t, got, start, "never behind its first reading")
	}
	moved := c.Now() + int64(5*time.Millisecond)
	assert.Eventually(t, func() bool { return c.Now() >= moved }, 5*time.Second, time.Millisecond, "moves while read")
	assert.Eventually(t, func() bool { return !c.running.Load() }, 5*time.Second, 10*time.Millisecond, "stops when not read")
	before := monotime()
	assert.GreaterOrEqual(t, c.Now(), before, "the first reading after a stop is the clock's")
	assert.True(t, c.running.Load(), "and starts it again")
}

// TestCacheRealClockExpires checks that with the real clock a cached
// tenant is read again once its TTL has passed.
func TestCacheRealClockExpires(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"))
	c := NewCache(src, CacheConfig{TTL: 20 * time.Millisecond})
	_, err := c.Get(t.Context(), "acme")
	require.NoError(t, err)
	require.EqualValues(t, 1, src.reads.Load())
	assert.Eventually(t, func() bool {
		_, err := c.Get(t.Context(), "acme")
		return err == nil && src.reads.Load() == 2
	}, 5*time.Second, 5*time.Millisecond)
}
