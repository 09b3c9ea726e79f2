package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/examples/metrics"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

func TestMetricsByTenantAndStatus(t *testing.T) {
	st := memstore.New(memstore.Config{})
	for _, tn := range []tenant.Tenant{
		{ID: "acme", Name: "ACME", Status: tenant.StatusActive},
		{ID: "beta", Name: "Beta", Status: tenant.StatusSuspended},
	} {
		_, err := st.Tenants().Create(t.Context(), &tn)
		require.NoError(t, err)
	}
	m := metrics.New()
	hdr, err := resolve.Header("X-Tenant-ID")
	require.NoError(t, err)
	mw, err := middleware.Tenant(middleware.TenantConfig{Resolver: hdr, Tenants: st.Tenants(), OnRefused: m.Refused})
	require.NoError(t, err)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	})
	h := mw(m.Measure(app))
	for _, c := range []struct{ id, path string }{
		{"acme", "/mcp"}, {"acme", "/mcp"}, {"acme", "/missing"}, {"beta", "/mcp"}, {"nobody", "/mcp"}, {"", "/mcp"},
	} {
		req := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.id != "" {
			req.Header.Set("X-Tenant-ID", c.id)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()
	for _, line := range []string{
		`tenancy_requests_seconds_count{tenant="acme",status="200"} 2`,
		`tenancy_requests_seconds_count{tenant="acme",status="404"} 1`,
		`tenancy_refused_total{tenant="beta",reason="suspended",status="404"} 1`,
		`tenancy_refused_total{tenant="",reason="not_found",status="404"} 1`,
		`tenancy_refused_total{tenant="",reason="missing_identifier",status="400"} 1`,
	} {
		assert.Contains(t, out, line+"\n")
	}
	assert.False(t, strings.Contains(out, `tenant="beta",status=`), "refused requests never reach the handler")
}

// TestRefusedSeriesBounded floods the middleware with well-formed IDs that
// name no tenant: they are counted under one series, never one per ID, so
// a client cannot grow the metrics without bound.
func TestRefusedSeriesBounded(t *testing.T) {
	st := memstore.New(memstore.Config{})
	_, err := st.Tenants().Create(t.Context(), &tenant.Tenant{ID: "gone", Name: "Gone", Status: tenant.StatusSuspended})
	require.NoError(t, err)
	m := metrics.New()
	hdr, err := resolve.Header("X-Tenant-ID")
	require.NoError(t, err)
	mw, err := middleware.Tenant(middleware.TenantConfig{Resolver: hdr, Tenants: st.Tenants(), OnRefused: m.Refused})
	require.NoError(t, err)
	h := mw(m.Measure(http.NotFoundHandler()))
	send := func(id string) {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("X-Tenant-ID", id)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	send("gone")
	for i := range 1000 {
		send(fmt.Sprintf("random-%d", i))
	}

	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()
	assert.Contains(t, out, `tenancy_refused_total{tenant="gone",reason="suspended",status="404"} 1`+"\n")
	assert.Contains(t, out, `tenancy_refused_total{tenant="",reason="not_found",status="404"}`)
	assert.NotContains(t, out, "random-")
	// The suspended tenant, and the unknown IDs under the empty tenant:
	// not found, and unavailable once the middleware's bound on store
	// reads for unknown IDs is reached.
	assert.LessOrEqual(t, strings.Count(out, "tenancy_refused_total{"), 3, out)
}

func TestRuntimeGauges(t *testing.T) {
	rec := httptest.NewRecorder()
	metrics.New().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Regexp(t, `(?m)^go_goroutines [1-9][0-9]*$`, rec.Body.String())
	assert.Regexp(t, `(?m)^go_memstats_heap_inuse_bytes [1-9][0-9]*$`, rec.Body.String())
}
