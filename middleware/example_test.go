package middleware_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The tenant middleware in front of a handler, with tenants told apart by
// a header and kept in memory (in production, a redisstore.Store). The
// handler runs only for an active tenant, and finds it in the context; an
// unknown and a suspended tenant get the same 404.
func ExampleTenant() {
	ctx := context.Background()
	st := memstore.New(memstore.Config{})
	_, _ = st.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	_, _ = st.Tenants().Create(ctx, &tenant.Tenant{ID: "gone", Name: "Gone", Status: tenant.StatusSuspended})

	byHeader, err := resolve.Header("X-Tenant-ID")
	if err != nil {
		panic(err)
	}
	withTenant, err := middleware.Tenant(middleware.TenantConfig{
		Resolver:  byHeader,
		Tenants:   st.Tenants(),
		OnRefused: middleware.LogRefusal(slog.New(slog.DiscardHandler)), // the audit hook
	})
	if err != nil {
		panic(err)
	}
	h := withTenant(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenant.FromContext(r.Context())
		fmt.Fprintf(w, "hello, %s", t.Name)
	}))

	for _, id := range []string{"acme", "gone", "nobody", "ACME", ""} {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		if id != "" {
			req.Header.Set("X-Tenant-ID", id)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%-7q %d %s\n", id, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// "acme"  200 hello, ACME
	// "gone"  404 {"error":"Tenant not found or inactive"}
	// "nobody" 404 {"error":"Tenant not found or inactive"}
	// "ACME"  400 {"error":"Invalid tenant identifier"}
	// ""      400 {"error":"Missing tenant identifier"}
}

// In path mode the tenant is the first path segment, and the handler sees
// the path without it, so the host's routes are the same in every mode.
func ExampleTenant_path() {
	st := memstore.New(memstore.Config{})
	_, _ = st.Tenants().Create(context.Background(), &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	withTenant, err := middleware.Tenant(middleware.TenantConfig{Resolver: resolve.Path(), Tenants: st.Tenants()})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mcp", func(w http.ResponseWriter, r *http.Request) {
		id, _ := tenant.IDFromContext(r.Context())
		fmt.Fprintf(w, "%s on %s", id, r.URL.Path)
	})
	rec := httptest.NewRecorder()
	withTenant(mux).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/acme/mcp", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 acme on /mcp
}

// A cache in front of the store answers known tenants from memory:
// concurrent and repeated requests for one tenant cost one store read
// until the entry's TTL ends or an event drops it.
func ExampleNewCache() {
	ctx := context.Background()
	st := memstore.New(memstore.Config{})
	_, _ = st.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	cache := middleware.NewCache(st.Tenants(), middleware.CacheConfig{})

	for range 3 {
		t, err := cache.Get(ctx, "acme")
		fmt.Println(t.Name, err)
	}
	fmt.Println("store reads:", cache.Stats().StoreReads)

	cache.Invalidate("acme") // what an update event of acme does
	_, _ = cache.Get(ctx, "acme")
	fmt.Println("store reads:", cache.Stats().StoreReads)
	// Output:
	// ACME <nil>
	// ACME <nil>
	// ACME <nil>
	// store reads: 1
	// store reads: 2
}
