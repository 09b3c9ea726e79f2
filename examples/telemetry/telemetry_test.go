package telemetry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/seedmcp/tenancy/examples/telemetry"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// setup is a server as the package documentation wires it: otelhttp around
// the tenant middleware, with Annotate behind it and Refused as its hook,
// on in-memory providers. Tenant acme is active, gone is suspended.
type setup struct {
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	handler http.Handler
}

func newSetup(t *testing.T) *setup {
	s := &setup{spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.metrics))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	tel, err := telemetry.New(telemetry.Config{MeterProvider: mp})
	require.NoError(t, err)

	st := memstore.New(memstore.Config{})
	for _, tn := range []tenant.Tenant{
		{ID: "acme", Name: "ACME", Status: tenant.StatusActive},
		{ID: "gone", Name: "Gone", Status: tenant.StatusSuspended},
	} {
		_, err := st.Tenants().Create(t.Context(), &tn)
		require.NoError(t, err)
	}
	byHeader, err := resolve.Header("X-Tenant-ID")
	require.NoError(t, err)
	withTenant, err := middleware.Tenant(middleware.TenantConfig{Resolver: byHeader, Tenants: st.Tenants(), OnRefused: tel.Refused})
	require.NoError(t, err)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	s.handler = otelhttp.NewHandler(withTenant(tel.Annotate(app)), "seed",
		otelhttp.WithServerName("seed.example.com:443"), otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp))
	return s
}

func (s *setup) send(id string) int {
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	if id != "" {
		req.Header.Set("X-Tenant-ID", id)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec.Code
}

// tenantsOf returns the tenant.id of each span, "" for none.
func (s *setup) tenantsOf() []string {
	var ids []string
	for _, sp := range s.spans.Ended() {
		ids = append(ids, value(sp.Attributes(), telemetry.TenantKey))
	}
	return ids
}

// points returns the attribute sets of the data points of the named
// metric, rendered as tenant.id/other attributes.
func (s *setup) points(t *testing.T, name string) []attribute.Set {
	var rm metricdata.ResourceMetrics
	require.NoError(t, s.metrics.Collect(context.Background(), &rm))
	var sets []attribute.Set
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			}
		}
	}
	return sets
}

func value(kvs []attribute.KeyValue, k attribute.Key) string {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value.String()
		}
	}
	return ""
}

func TestTenantOnSpansAndMetrics(t *testing.T) {
	s := newSetup(t)
	require.Equal(t, http.StatusOK, s.send("acme"))
	require.Equal(t, http.StatusOK, s.send("acme"))
	require.Equal(t, http.StatusNotFound, s.send("gone"))
	require.Equal(t, http.StatusBadRequest, s.send(""))

	assert.Equal(t, []string{"acme", "acme", "gone", ""}, s.tenantsOf())
	spans := s.spans.Ended()
	assert.Equal(t, "suspended", value(spans[2].Attributes(), telemetry.ReasonKey))
	assert.Equal(t, "missing_identifier", value(spans[3].Attributes(), telemetry.ReasonKey))

	byTenant := map[string]int{}
	for _, set := range s.points(t, "http.server.request.duration") {
		v, _ := set.Value(telemetry.TenantKey)
		byTenant[v.String()]++
	}
	assert.Equal(t, map[string]int{"acme": 1, "gone": 1, "": 1}, byTenant, "one series per tenant and status")

	refused := map[string]string{}
	for _, set := range s.points(t, "tenancy.requests.refused") {
		reason, _ := set.Value(telemetry.ReasonKey)
		id, _ := set.Value(telemetry.TenantKey)
		refused[reason.String()] = id.String()
	}
	assert.Equal(t, map[string]string{"suspended": "gone", "missing_identifier": ""}, refused)
}

// A flood of made-up IDs names no tenant anywhere and adds no series: the
// HTTP metrics and the refusal counter each keep one series for all of
// them.
func TestMadeUpIDsAddNoSeries(t *testing.T) {
	s := newSetup(t)
	for i := range 500 {
		s.send(fmt.Sprintf("random-%d", i))
	}
	for _, id := range s.tenantsOf() {
		require.Empty(t, id)
	}
	// Not found, and unavailable once the middleware's bound on store
	// reads for unknown IDs is reached.
	assert.LessOrEqual(t, len(s.points(t, "http.server.request.duration")), 2)
	for _, set := range s.points(t, "tenancy.requests.refused") {
		assert.False(t, set.HasValue(telemetry.TenantKey), set.Encoded(attribute.DefaultEncoder()))
	}
	assert.LessOrEqual(t, len(s.points(t, "tenancy.requests.refused")), 2)
}

// The host a request names is the client's choice too: in subdomain mode
// it is the tenant ID, and in every mode it can be anything. A flood of
// made-up hosts adds no series either.
func TestMadeUpHostsAddNoSeries(t *testing.T) {
	s := newSetup(t)
	for i := range 500 {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Host = fmt.Sprintf("random-%d.seed.example.com:%d", i, 1000+i)
		req.Header.Set("X-Tenant-ID", "acme")
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
	}
	points := s.points(t, "http.server.request.duration")
	for _, set := range points {
		assert.NotContains(t, set.Encoded(attribute.DefaultEncoder()), "random-")
	}
	assert.Len(t, points, 1, "one series for tenant acme and status 200")
}

// Without otelhttp in front, Annotate and Refused have no span or labeler
// to write to, and the request is served all the same.
func TestWithoutInstrumentation(t *testing.T) {
	tel, err := telemetry.New(telemetry.Config{})
	require.NoError(t, err)
	served := false
	h := tel.Annotate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req = req.WithContext(tenant.NewContext(req.Context(), &tenant.Tenant{ID: "acme"}))
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.True(t, served)
	tel.Refused(req, middleware.Refusal{Reason: middleware.ReasonRateLimited, Status: 429, TenantID: "acme"})
}
