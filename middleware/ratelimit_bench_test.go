package middleware

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// rateLimitChain returns the tenant middleware (header mode, cache hit)
// and the rate limit in front of the bare handler, for two tenants: "free",
// without a limit, and "metered", whose limit is far above any load, so
// that every request is admitted from a lease.
func rateLimitChain(b *testing.B) http.Handler {
	metered := activeTenant("metered")
	metered.Limits.RateLimit = 1 << 30
	withTenant, err := Tenant(TenantConfig{Resolver: headerResolver(b), Tenants: newFakeTenants(activeTenant("free"), metered)})
	if err != nil {
		b.Fatal(err)
	}
	limit, err := RateLimit(RateLimitConfig{Leaser: memstore.New(memstore.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	return withTenant(limit(noop))
}

// BenchmarkRateLimitChain serves requests of the unlimited and of the
// metered tenant through the same chain: the ratio of the two is what the
// rate limit costs a request at steady state.
func BenchmarkRateLimitChain(b *testing.B) {
	h := rateLimitChain(b)
	for _, id := range []string{"free", "metered"} {
		b.Run(id, func(b *testing.B) { benchServe(b, h, id) })
	}
}

// BenchmarkRateLimitLease is the rate limit alone, for a request whose
// tenant is already in its context: a request admitted from the lease.
func BenchmarkRateLimitLease(b *testing.B) {
	mw, err := RateLimit(RateLimitConfig{Leaser: memstore.New(memstore.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(noop)
	req := limitedRequest(&tenant.Tenant{ID: "acme", Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: 1 << 30}})
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkRateLimitServer is BenchmarkRateLimitChain through a real HTTP
// server on loopback, one keep-alive connection: requests per second of a
// server, the throughput a client sees, for the unlimited and the metered
// tenant.
func BenchmarkRateLimitServer(b *testing.B) {
	srv := httptest.NewServer(rateLimitChain(b))
	b.Cleanup(srv.Close)
	client := srv.Client()
	for _, id := range []string{"free", "metered"} {
		b.Run(id, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("X-Tenant-ID", id)
			b.ReportAllocs()
			for b.Loop() {
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
		})
	}
}
