// Package telemetry is an example of OpenTelemetry tracing and metrics for
// a multi-tenant server: every span of a tenant's request, and every HTTP
// metric data point, carries the tenant as tenant.id, and refusals are
// counted by reason.
//
// The HTTP instrumentation (otelhttp) wraps the whole server, so that it
// times everything, refusals included; the tenant is only known further
// in, behind the tenant middleware. [Telemetry.Annotate] sits there and
// adds the tenant to the request's span and to the attributes otelhttp
// records its metrics with (its Labeler); [Telemetry.Refused], the
// middleware's refusal hook, does the same for refused requests:
//
//	tel, _ := telemetry.New(telemetry.Config{}) // the global providers
//	cfg.OnRefused = tel.Refused
//	svc, _ := tenancy.New(cfg)
//	mux.Handle("/", svc.Middleware(tel.Annotate(app)))
//	server := &http.Server{Handler: otelhttp.NewHandler(mux, "seed",
//		otelhttp.WithServerName("seed.example.com:443"))}
//
// otelhttp.WithServerName, with a port, is not optional: without it,
// otelhttp gives every metric data point the server.address and
// server.port of the request's Host header, which the client chooses (in
// subdomain mode it is the tenant ID), so that each made-up host would add
// a series of its own.
//
// A log line written during the request can carry the same attribute with
// tenant.LogHandler (its key is tenant.id too), so that logs, traces and
// metrics of one tenant are found by one name.
//
// Only a tenant that exists is named: the refusal of an ID that names no
// tenant (or of a missing or malformed one) carries no tenant.id, so a
// flood of made-up IDs (or hosts, with the server name set as above) adds
// no metric series; a suspended or rate-limited tenant is named.
package telemetry

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/tenant"
)

// The attributes this package sets.
const (
	// TenantKey names the tenant of a span or data point; it is the key
	// tenant.LogHandler gives log lines.
	TenantKey = attribute.Key(tenant.LogKey)
	// ReasonKey is why a request was refused (middleware.Reason).
	ReasonKey = attribute.Key("tenancy.refusal.reason")
	// StatusKey is the status the refused request was answered with.
	StatusKey = attribute.Key("http.response.status_code")
)

// scope is the instrumentation scope of the package's meter.
const scope = "github.com/seedmcp/tenancy/examples/telemetry"

// Config configures [New]. The zero value works.
type Config struct {
	// MeterProvider makes the refusal counter.
	// default: otel.GetMeterProvider()
	MeterProvider metric.MeterProvider
}

// Telemetry annotates a tenant's requests and counts refusals. Create it
// with [New].
type Telemetry struct {
	refused metric.Int64Counter
}

// New returns a Telemetry whose refusal counter,
// tenancy.requests.refused, comes from cfg.MeterProvider.
func New(cfg Config) (*Telemetry, error) {
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	refused, err := mp.Meter(scope).Int64Counter("tenancy.requests.refused",
		metric.WithDescription("Requests refused by the tenant or rate-limit middleware, by reason; tenant.id only for a tenant that exists."),
		metric.WithUnit("{request}"))
	if err != nil {
		return nil, err
	}
	return &Telemetry{refused: refused}, nil
}

// Annotate returns next wrapped so that the span and the HTTP metrics of
// every request it serves carry the request's tenant. Put it behind the
// tenant middleware, which puts the tenant in the context.
func (t *Telemetry) Annotate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := tenant.IDFromContext(r.Context()); ok {
			name(r, id)
		}
		next.ServeHTTP(w, r)
	})
}

// Refused is a hook for the OnRefused field of tenancy.Config or of the
// middleware configs: it counts the refusal, marks the request's span with
// the reason, and names the tenant only when it exists (suspended, rate
// limited).
func (t *Telemetry) Refused(r *http.Request, f middleware.Refusal) {
	attrs := []attribute.KeyValue{ReasonKey.String(string(f.Reason)), StatusKey.Int(f.Status)}
	switch f.Reason {
	case middleware.ReasonSuspended, middleware.ReasonRateLimited:
		attrs = append(attrs, TenantKey.String(f.TenantID))
		name(r, f.TenantID)
	}
	trace.SpanFromContext(r.Context()).SetAttributes(ReasonKey.String(string(f.Reason)))
	t.refused.Add(r.Context(), 1, metric.WithAttributes(attrs...))
}

// name puts the tenant on the request's span and among the attributes of
// otelhttp's metrics for it.
func name(r *http.Request, id string) {
	kv := TenantKey.String(id)
	trace.SpanFromContext(r.Context()).SetAttributes(kv)
	if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
		l.Add(kv)
	}
}
