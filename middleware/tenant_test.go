package middleware

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/tenant"
)

// echo answers with the tenant from the context and the path it saw.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	t, ok := tenant.FromContext(r.Context())
	if !ok {
		http.Error(w, "no tenant in context", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte(t.ID + " " + r.URL.Path))
})

func headerResolver(t testing.TB) resolve.Resolver {
	r, err := resolve.Header("X-Tenant-ID")
	require.NoError(t, err)
	return r
}

func newTenantHandler(t testing.TB, cfg TenantConfig) http.Handler {
	if cfg.Resolver == nil {
		cfg.Resolver = headerResolver(t)
	}
	if cfg.OnRefused == nil {
		cfg.OnRefused = func(*http.Request, Refusal) {}
	}
	mw, err := Tenant(cfg)
	require.NoError(t, err)
	return mw(echo)
}

func serve(h http.Handler, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTenantAnswers(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"), suspendedTenant("frozen"))
	h := newTenantHandler(t, TenantConfig{Tenants: src})
	down := newFakeTenants()
	down.down.Store(true)
	hDown := newTenantHandler(t, TenantConfig{Tenants: down})

	tests := []struct {
		name       string
		h          http.Handler
		header     []string
		status     int
		body       string
		retryAfter string
	}{
		{"served", h, []string{"X-Tenant-ID", "acme"}, 200, "acme /mcp", ""},
		{"no identifier", h, nil, 400, `{"error":"Missing tenant identifier"}`, ""},
		{"empty identifier", h, []string{"X-Tenant-ID", ""}, 400, `{"error":"Missing tenant identifier"}`, ""},
		{"malformed identifier", h, []string{"X-Tenant-ID", "ACME"}, 400, `{"error":"Invalid tenant identifier"}`, ""},
		{"repeated identifier", h, []string{"X-Tenant-ID", "acme", "X-Tenant-ID", "acme"}, 400, `{"error":"Invalid tenant identifier"}`, ""},
		{"reserved identifier", h, []string{"X-Tenant-ID", "admin"}, 400, `{"error":"Invalid tenant identifier"}`, ""},
		{"unknown tenant", h, []string{"X-Tenant-ID", "nobody"}, 404, `{"error":"Tenant not found or inactive"}`, ""},
		{"suspended tenant", h, []string{"X-Tenant-ID", "frozen"}, 404, `{"error":"Tenant not found or inactive"}`, ""},
		{"store unreachable", hDown, []string{"X-Tenant-ID", "acme"}, 503, `{"error":"Tenant service unavailable"}`, "5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(tt.h, tt.header...)
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, tt.body, rec.Body.String())
			assert.Equal(t, tt.retryAfter, rec.Header().Get("Retry-After"))
			if tt.status != 200 {
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestTenantUnknownAndSuspendedAreIdentical(t *testing.T) {
	src := newFakeTenants(suspendedTenant("frozen"))
	h := newTenantHandler(t, TenantConfig{Tenants: src})
	for range 2 { // first from the store, then from the cache
		unknown := serve(h, "X-Tenant-ID", "nobody")
		suspended := serve(h, "X-Tenant-ID", "frozen")
		assert.Equal(t, unknown.Code, suspended.Code)
		assert.Equal(t, unknown.Body.Bytes(), suspended.Body.Bytes())
		assert.Equal(t, unknown.Header(), suspended.Header())
	}
}

func TestTenantAuditAndServedHooks(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"), suspendedTenant("frozen"))
	var mu sync.Mutex
	var refusals []Refusal
	served := map[string]int{}
	h := newTenantHandler(t, TenantConfig{
		Tenants: src,
		OnRefused: func(_ *http.Request, f Refusal) {
			mu.Lock()
			refusals = append(refusals, f)
			mu.Unlock()
		},
		OnServed: func(_ *http.Request, tn *tenant.Tenant) { served[tn.ID]++ },
	})
	serve(h, "X-Tenant-ID", "acme")
	serve(h, "X-Tenant-ID", "acme")
	serve(h, "X-Tenant-ID", "frozen")
	serve(h, "X-Tenant-ID", "nobody")
	serve(h, "X-Tenant-ID", "Bad")
	serve(h)
	serve(h, "X-Tenant-ID", strings.Repeat("X", 1000))

	assert.Equal(t, map[string]int{"acme": 2}, served)
	require.Len(t, refusals, 5)
	want := []struct {
		reason    Reason
		id, ident string
		status    int
	}{
		{ReasonSuspended, "frozen", "", 404},
		{ReasonNotFound, "nobody", "", 404},
		{ReasonInvalid, "", "Bad", 400},
		{ReasonMissing, "", "", 400},
		{ReasonInvalid, "", strings.Repeat("X", MaxIdentifierLog), 400},
	}
	for i, w := range want {
		assert.Equal(t, w.reason, refusals[i].Reason)
		assert.Equal(t, w.id, refusals[i].TenantID)
		assert.Equal(t, w.ident, refusals[i].Identifier)
		assert.Equal(t, w.status, refusals[i].Status)
		assert.Equal(t, "192.0.2.1:1234", refusals[i].RemoteAddr)
	}
}

func TestTenantDefaultAuditLogs(t *testing.T) {
	var buf bytes.Buffer
	// Each refusal is logged at debug level; at the default level they
	// are summed up once a minute (TestRefusalFloodLogsBoundedLines).
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mw, err := Tenant(TenantConfig{Resolver: headerResolver(t), Tenants: newFakeTenants(), OnRefused: LogRefusal(logger)})
	require.NoError(t, err)
	serve(mw(echo), "X-Tenant-ID", "nobody")
	assert.Contains(t, buf.String(), `"reason":"not_found"`)
	assert.Contains(t, buf.String(), `"tenant":"nobody"`)
	assert.Contains(t, buf.String(), `"remote":"192.0.2.1:1234"`)
}

func TestTenantPathModeStripsTheTenantSegment(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"))
	h := newTenantHandler(t, TenantConfig{Tenants: src, Resolver: resolve.Path()})
	req := httptest.NewRequest(http.MethodGet, "/acme/mcp?x=1", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, "acme /mcp", rec.Body.String())
	assert.Equal(t, "/acme/mcp", req.URL.Path, "the caller's request is not modified")
}

func TestTenantFallbackForSingleTenantMode(t *testing.T) {
	static, err := resolve.Static(tenant.DefaultID)
	require.NoError(t, err)
	fallback := &tenant.Tenant{ID: tenant.DefaultID, Name: "Default", Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: "https://auth.example.com", Audience: "seed"}}
	src := newFakeTenants()
	h := newTenantHandler(t, TenantConfig{Resolver: static, Tenants: WithFallback(src, fallback)})
	assert.Equal(t, "default /mcp", serve(h).Body.String())

	// Once the tenant is in the store, the stored record wins (here: it
	// is suspended).
	src.set(suspendedTenant(tenant.DefaultID))
	h = newTenantHandler(t, TenantConfig{Resolver: static, Tenants: WithFallback(src, fallback)})
	assert.Equal(t, 404, serve(h).Code)
}

func TestTenantStoreOutageAndRecovery(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"), activeTenant("beta"))
	clk := newFakeClock()
	cache := NewCache(src, CacheConfig{TTL: time.Second, StaleTTL: time.Minute, Now: clk.Now})
	h := newTenantHandler(t, TenantConfig{Cache: cache})
	require.Equal(t, 200, serve(h, "X-Tenant-ID", "acme").Code)

	src.down.Store(true)
	clk.Advance(10 * time.Second)
	assert.Equal(t, 200, serve(h, "X-Tenant-ID", "acme").Code, "cached tenant served within the stale window")
	assert.Equal(t, 503, serve(h, "X-Tenant-ID", "beta").Code, "uncached tenant: unavailable")

	src.down.Store(false)
	assert.Equal(t, 200, serve(h, "X-Tenant-ID", "beta").Code, "recovers by itself")
}

func TestTenantConfigErrors(t *testing.T) {
	_, err := Tenant(TenantConfig{Tenants: newFakeTenants()})
	assert.Error(t, err)
	_, err = Tenant(TenantConfig{Resolver: headerResolver(t)})
	assert.Error(t, err)
}

// TestTenantHangUpIsNotAnOutage: a client that goes away while its tenant
// is read is counted as a hang-up, not as the store failing, so it does
// not raise the refusal summary to Warn; a store that fails, or is too
// slow for the request's deadline, still is ReasonUnavailable.
func TestTenantHangUpIsNotAnOutage(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"))
	src.delay = time.Hour
	var got []Reason
	var mu sync.Mutex
	h := newTenantHandler(t, TenantConfig{Tenants: src, OnRefused: func(_ *http.Request, f Refusal) {
		mu.Lock()
		got = append(got, f.Reason)
		mu.Unlock()
	}})

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil).WithContext(ctx)
	req.Header.Set("X-Tenant-ID", "acme")
	time.AfterFunc(20*time.Millisecond, cancel)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)

	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer dcancel()
	req = httptest.NewRequest(http.MethodGet, "/mcp", nil).WithContext(dctx)
	req.Header.Set("X-Tenant-ID", "acme")
	h.ServeHTTP(httptest.NewRecorder(), req)

	down := newFakeTenants(activeTenant("acme"))
	down.down.Store(true)
	h = newTenantHandler(t, TenantConfig{Tenants: down, OnRefused: func(_ *http.Request, f Refusal) {
		mu.Lock()
		got = append(got, f.Reason)
		mu.Unlock()
	}})
	serve(h, "X-Tenant-ID", "acme")

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []Reason{ReasonHungUp, ReasonUnavailable, ReasonUnavailable}, got)
}
