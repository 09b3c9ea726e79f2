package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/examples/metrics"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// env is the tenant middleware over a memstore with the given tenants,
// with m's hooks in place, in front of app.
func env(t *testing.T, m *metrics.Metrics, app http.Handler, tenants ...tenant.Tenant) func(id, path string) int {
	st := memstore.New(memstore.Config{})
	for _, tn := range tenants {
		_, err := st.Tenants().Create(t.Context(), &tn)
		require.NoError(t, err)
	}
	hdr, err := resolve.Header("X-Tenant-ID")
	require.NoError(t, err)
	mw, err := middleware.Tenant(middleware.TenantConfig{Resolver: hdr, Tenants: st.Tenants(), OnRefused: m.Refused})
	require.NoError(t, err)
	h := mw(m.Measure(app))
	return func(id, path string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if id != "" {
			req.Header.Set("X-Tenant-ID", id)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
}

// scrape returns what GET /metrics answers.
func scrape(t *testing.T, m *metrics.Metrics) string {
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4"), rec.Header().Get("Content-Type"))
	return rec.Body.String()
}

var (
	acme = tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}
	beta = tenant.Tenant{ID: "beta", Name: "Beta", Status: tenant.StatusSuspended}
)

func TestMetricsByTenantAndStatus(t *testing.T) {
	m, err := metrics.New(metrics.Config{})
	require.NoError(t, err)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	})
	send := env(t, m, app, acme, beta)
	for _, c := range []struct{ id, path string }{
		{"acme", "/mcp"}, {"acme", "/mcp"}, {"acme", "/missing"}, {"beta", "/mcp"}, {"nobody", "/mcp"}, {"", "/mcp"},
	} {
		send(c.id, c.path)
	}

	out := scrape(t, m)
	for _, line := range []string{
		`tenancy_requests_seconds_count{code="200",tenant="acme"} 2`,
		`tenancy_requests_seconds_count{code="404",tenant="acme"} 1`,
		`tenancy_refused_total{code="404",reason="suspended",tenant="beta"} 1`,
		`tenancy_refused_total{code="404",reason="not_found",tenant=""} 1`,
		`tenancy_refused_total{code="400",reason="missing_identifier",tenant=""} 1`,
	} {
		assert.Contains(t, out, line+"\n")
	}
	assert.NotContains(t, out, `tenancy_requests_seconds_count{code="200",tenant="beta"}`, "refused requests never reach the handler")
	assert.NotContains(t, out, "nobody")
}

// TestRefusedSeriesBounded floods the middleware with well-formed IDs that
// name no tenant: they are counted under one series, never one per ID, so
// a client cannot grow the metrics without bound.
func TestRefusedSeriesBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registry: reg})
	require.NoError(t, err)
	send := env(t, m, http.NotFoundHandler(), tenant.Tenant{ID: "gone", Name: "Gone", Status: tenant.StatusSuspended})
	send("gone", "/mcp")
	for i := range 1000 {
		send(fmt.Sprintf("random-%d", i), "/mcp")
	}

	out := scrape(t, m)
	assert.Contains(t, out, `tenancy_refused_total{code="404",reason="suspended",tenant="gone"} 1`+"\n")
	assert.NotContains(t, out, "random-")
	// The suspended tenant, and the unknown IDs under the empty tenant:
	// not found, and unavailable once the middleware's bound on store
	// reads for unknown IDs is reached.
	n, err := testutil.GatherAndCount(reg, "tenancy_refused_total")
	require.NoError(t, err)
	assert.LessOrEqual(t, n, 3, out)
	n, err = testutil.GatherAndCount(reg, "tenancy_requests_seconds")
	require.NoError(t, err)
	assert.Zero(t, n, "no request got through")
}

// A deleted tenant's series go with it; the others stay.
func TestDeletedTenantSeriesDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registry: reg})
	require.NoError(t, err)
	other := tenant.Tenant{ID: "other", Name: "Other", Status: tenant.StatusActive}
	send := env(t, m, http.NotFoundHandler(), acme, other, beta)
	send("acme", "/")
	send("other", "/")
	send("beta", "/")
	count := func() int {
		n, err := testutil.GatherAndCount(reg, "tenancy_requests_seconds", "tenancy_refused_total")
		require.NoError(t, err)
		return n
	}
	require.Equal(t, 3, count())

	m.HandleEvent(store.Event{Type: store.EventUpdated, TenantID: "acme"})
	m.HandleEvent(store.Event{Type: store.EventReset})
	assert.Equal(t, 3, count(), "only a deletion drops series")
	m.HandleEvent(store.Event{Type: store.EventDeleted, TenantID: "acme"})
	m.HandleEvent(store.Event{Type: store.EventDeleted, TenantID: "beta"})
	assert.Equal(t, 1, count())
	out := scrape(t, m)
	assert.NotContains(t, out, `tenant="acme"`)
	assert.NotContains(t, out, `tenant="beta"`)
	assert.Contains(t, out, `tenancy_requests_seconds_count{code="404",tenant="other"} 1`)
}

// The Go runtime and process collectors come with a registry of its own.
func TestRuntimeGauges(t *testing.T) {
	m, err := metrics.New(metrics.Config{})
	require.NoError(t, err)
	out := scrape(t, m)
	assert.Regexp(t, `(?m)^go_goroutines [1-9][0-9]*$`, out)
	assert.Regexp(t, `(?m)^go_memstats_heap_inuse_bytes [0-9.e+]+$`, out)
}

// A registry given in Config gets the collectors and nothing else, and
// registering twice is an error, not a panic.
func TestOwnRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := metrics.New(metrics.Config{Registry: reg})
	require.NoError(t, err)
	_, err = metrics.New(metrics.Config{Registry: reg})
	var already prometheus.AlreadyRegisteredError
	assert.ErrorAs(t, err, &already)
	n, err := testutil.GatherAndCount(reg, "go_goroutines")
	require.NoError(t, err)
	assert.Zero(t, n)
}

// Measure keeps the writer flushable, which streamed MCP answers need.
func TestMeasureFlushes(t *testing.T) {
	m, err := metrics.New(metrics.Config{})
	require.NoError(t, err)
	var flushErr error
	h := m.Measure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flushErr = http.NewResponseController(w).Flush()
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.NoError(t, flushErr)
	assert.True(t, rec.Flushed)
}

// A request of a tenant still in flight when the tenant is deleted (an
// MCP event stream, which the deletion ends) does not bring the deleted
// tenant's series back when it ends; a tenant created again under the
// same ID is counted again.
func TestDeletedTenantInFlight(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(metrics.Config{Registry: reg})
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			close(entered)
			<-release
		}
	})
	send := env(t, m, app, acme)
	done := make(chan struct{})
	go func() {
		defer close(done)
		send("acme", "/stream")
	}()
	<-entered
	m.HandleEvent(store.Event{Type: store.EventDeleted, TenantID: "acme"})
	close(release)
	<-done
	n, err := testutil.GatherAndCount(reg, "tenancy_requests_seconds")
	require.NoError(t, err)
	assert.Zero(t, n, "no series of a deleted tenant: %s", scrape(t, m))

	m.HandleEvent(store.Event{Type: store.EventCreated, TenantID: "acme"})
	require.Equal(t, http.StatusOK, send("acme", "/"))
	assert.Contains(t, scrape(t, m), `tenancy_requests_seconds_count{code="200",tenant="acme"} 1`+"\n")
}
