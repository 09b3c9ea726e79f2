package telemetry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/seedmcp/tenancy/examples/telemetry"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The span of each request names its tenant, and the reason when it was
// refused; an ID that names no tenant is not recorded.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tel, err := telemetry.New(telemetry.Config{})
	if err != nil {
		panic(err)
	}

	st := memstore.New(memstore.Config{})
	_, _ = st.Tenants().Create(context.Background(), &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	byHeader, _ := resolve.Header("X-Tenant-ID")
	withTenant, _ := middleware.Tenant(middleware.TenantConfig{Resolver: byHeader, Tenants: st.Tenants(), OnRefused: tel.Refused})
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/", withTenant(tel.Annotate(app)))
	h := otelhttp.NewHandler(mux, "seed", otelhttp.WithServerName("seed.example.com:443"), otelhttp.WithTracerProvider(tp))

	for _, id := range []string{"acme", "made-up"} {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("X-Tenant-ID", id)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, sp := range spans.Ended() {
		fmt.Printf("%s: tenant.id=%q reason=%q\n", sp.Name(),
			value(sp.Attributes(), telemetry.TenantKey), value(sp.Attributes(), telemetry.ReasonKey))
	}
	// Output:
	// GET /: tenant.id="acme" reason=""
	// GET /: tenant.id="" reason="not_found"
}
