package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// noop is the bare handler the middleware's cost is measured against.
var noop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func benchServe(b *testing.B, h http.Handler, id string) {
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("X-Tenant-ID", id)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkBare is the baseline: the handler alone.
func BenchmarkBare(b *testing.B) {
	benchServe(b, noop, "acme")
}

// floorKey is the context key of BenchmarkFloor.
type floorKey struct{}

// BenchmarkFloor is the least a tenant middleware can cost: it attaches a
// tenant it already has with r.WithContext(context.WithValue(...)), as
// every middleware that hands a value to the next handler must. The tenant
// middleware on a cache hit is measured against it.
func BenchmarkFloor(b *testing.B) {
	benchServe(b, floor(noop), "acme")
}

// floor is the middleware of BenchmarkFloor.
func floor(next http.Handler) http.Handler {
	t := activeTenant("acme")
	key := &floorKey{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key, &t)))
	})
}

// BenchmarkTenantCacheHit is the tenant middleware on a cache hit in
// header mode; its ratio to BenchmarkFloor, in the same run, is what
// resolving and validating the tenant costs over attaching it.
func BenchmarkTenantCacheHit(b *testing.B) {
	mw, err := Tenant(TenantConfig{Resolver: headerResolver(b), Tenants: newFakeTenants(activeTenant("acme"))})
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, mw(noop), "acme")
}

// BenchmarkTenantVsFloor serves requests through the floor and through
// the tenant middleware on a cache hit in alternating batches, the order
// swapped every batch, so that both meet the same machine: two benchmarks
// run a second apart on a shared machine differ by its load more than by
// their code. It reports the ns per request of each (every batch, garbage
// collection included: both allocate the same), their ratio, and the ratio
// of their median batches, which leaves out the batches a collection or
// the scheduler interrupted.
func BenchmarkTenantVsFloor(b *testing.B) {
	mw, err := Tenant(TenantConfig{Resolver: headerResolver(b), Tenants: newFakeTenants(activeTenant("acme"))})
	if err != nil {
		b.Fatal(err)
	}
	handlers := [2]http.Handler{floor(noop), mw(noop)}
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("X-Tenant-ID", "acme")
	w := httptest.NewRecorder()
	const batch = 50
	var total [2]time.Duration
	var lat [2][]time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		for k := range 2 {
			i := (k + n) % 2
			start := time.Now()
			for range batch {
				handlers[i].ServeHTTP(w, req)
			}
			d := time.Since(start)
			total[i] += d
			lat[i] = append(lat[i], d)
		}
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
	requests := float64(n * batch)
	b.ReportMetric(float64(total[0].Nanoseconds())/requests, "floor-ns/req")
	b.ReportMetric(float64(total[1].Nanoseconds())/requests, "tenant-ns/req")
	b.ReportMetric(float64(total[1])/float64(total[0]), "ratio")
	for i := range lat {
		slices.Sort(lat[i])
	}
	b.ReportMetric(float64(lat[1][len(lat[1])/2])/float64(lat[0][len(lat[0])/2]), "p50-ratio")
}

// BenchmarkTenantUnknown and BenchmarkTenantSuspended compare the cost of
// the two 404 answers, which must not tell the tenants apart.
func BenchmarkTenantUnknown(b *testing.B) {
	benchRefusal(b, "nobody")
}

func BenchmarkTenantSuspended(b *testing.B) {
	benchRefusal(b, "frozen")
}

func benchRefusal(b *testing.B, id string) {
	mw, err := Tenant(TenantConfig{Resolver: headerResolver(b), Tenants: newFakeTenants(suspendedTenant("frozen")),
		OnRefused: func(*http.Request, Refusal) {}})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(noop)
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("X-Tenant-ID", id)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNotFound {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkCacheGet is the cache lookup alone.
func BenchmarkCacheGet(b *testing.B) {
	c := NewCache(newFakeTenants(activeTenant("acme")), CacheConfig{})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := c.Get(req.Context(), "acme"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Get(req.Context(), "acme")
	}
}

// BenchmarkUnknownVsSuspendedMedian interleaves requests for an unknown and
// a suspended tenant and reports the median latency of each, so that a
// difference between the two answers would show as two different p50s.
func BenchmarkUnknownVsSuspendedMedian(b *testing.B) {
	mw, err := Tenant(TenantConfig{Resolver: headerResolver(b), Tenants: newFakeTenants(suspendedTenant("frozen")),
		OnRefused: func(*http.Request, Refusal) {}})
	if err != nil {
		b.Fatal(err)
	}
	h := mw(noop)
	reqs := [2]*http.Request{
		httptest.NewRequest(http.MethodGet, "/mcp", nil),
		httptest.NewRequest(http.MethodGet, "/mcp", nil),
	}
	reqs[0].Header.Set("X-Tenant-ID", "frozen")
	reqs[1].Header.Set("X-Tenant-ID", "nobody")
	var lat [2][]time.Duration
	n := 0
	for b.Loop() {
		// Alternate which of the two goes first, so that neither gains
		// from the other having warmed the caches.
		n++
		for k := range 2 {
			i := (k + n) % 2
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, reqs[i])
			lat[i] = append(lat[i], time.Since(start))
		}
	}
	for i, name := range []string{"suspended-p50-ns", "unknown-p50-ns"} {
		slices.Sort(lat[i])
		b.ReportMetric(float64(lat[i][len(lat[i])/2].Nanoseconds()), name)
	}
}
