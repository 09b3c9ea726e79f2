// Package metrics is an example of per-tenant Prometheus metrics built on
// the hooks of the tenancy middleware and on prometheus/client_golang:
// request latency by tenant and status code, refusals by reason, and the
// Go runtime and process collectors, served by promhttp.
//
// Wire it around the tenancy middleware:
//
//	m, _ := metrics.New(metrics.Config{})
//	cfg.OnRefused = m.Refused // refusals by reason (also 404s, 429s)
//	svc, _ := tenancy.New(cfg)
//	svc.OnEvent(m.HandleEvent) // a deleted tenant's series go with it
//	http.Handle("/", svc.Middleware(m.Measure(app)))
//	http.Handle("/metrics", m)
//
// Measure sits inside the tenant middleware, so it sees the tenant of every
// request that got through; refusals never reach it and are counted by the
// Refused hook instead.
//
// Every series with a tenant label belongs to a tenant that exists: Measure
// only sees requests of active tenants, Refused labels only the refusals
// of a tenant the store knows (suspended, over its rate limit) and counts
// every other refusal, whatever ID it named, under an empty tenant, and
// HandleEvent drops a deleted tenant's series. A flood of made-up tenant IDs
// therefore adds no series, and the number of series follows the number
// of tenants.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Config configures [New]. The zero value works.
type Config struct {
	// Registry receives the collectors; ServeHTTP serves it.
	// default: a registry of its own, with the Go runtime and process
	// collectors as well
	Registry *prometheus.Registry
	// Buckets are the upper bounds, in seconds, of the latency histogram.
	// default: 1 ms, 5 ms, 25 ms, 100 ms, 500 ms and 2.5 s
	Buckets []float64
}

// The label names.
const (
	labelTenant = "tenant"
	labelCode   = "code" // the name promhttp fills with the status code
	labelReason = "reason"
)

// Metrics counts requests by tenant and status code, and refusals by
// reason. Create it with [New].
type Metrics struct {
	requests *prometheus.HistogramVec
	refused  *prometheus.CounterVec
	handler  http.Handler

	// deleted holds the tenants deleted in the last forgetDeleted, with
	// the time of their deletion, so that a request of theirs still in
	// flight then adds no series when it ends.
	mu      sync.RWMutex
	deleted map[string]time.Time
}

// forgetDeleted is how long a deleted tenant's requests still in flight are
// kept out of the series: far longer than any request outlives its
// tenant's deletion (its MCP sessions end with it).
const forgetDeleted = time.Hour

// New creates the collectors and registers them with cfg.Registry.
func New(cfg Config) (*Metrics, error) {
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		if err := registerAll(reg, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, err
		}
	}
	buckets := cfg.Buckets
	if buckets == nil {
		buckets = []float64{0.001, 0.005, 0.025, 0.1, 0.5, 2.5}
	}
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenancy_requests_seconds",
			Help:    "Latency of the requests that got through the tenant middleware, by tenant and status code.",
			Buckets: buckets,
		}, []string{labelTenant, labelCode}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenancy_refused_total",
			Help: "Requests refused by the tenant or rate-limit middleware, by reason; the tenant is set only for a tenant that exists.",
		}, []string{labelTenant, labelReason, labelCode}),
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	if err := registerAll(reg, m.requests, m.refused); err != nil {
		return nil, err
	}
	return m, nil
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Measure returns next wrapped so that each request is observed under its
// tenant and answer status, with its latency. The wrapped ResponseWriter
// keeps the optional interfaces of the server's (flushing, which streamed
// MCP answers need) and unwraps for http.ResponseController. A request
// that ends after its tenant was deleted leaves no series behind.
func (m *Metrics) Measure(next http.Handler) http.Handler {
	h := promhttp.InstrumentHandlerDuration(m.requests, next,
		promhttp.WithLabelFromCtx(labelTenant, func(ctx context.Context) string {
			id, _ := tenant.IDFromContext(ctx)
			return id
		}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		// Observed when the request ends: if its tenant was deleted
		// meanwhile, the observation made the series again.
		if id, ok := tenant.IDFromContext(r.Context()); ok && m.wasDeleted(id) {
			m.requests.DeletePartialMatch(prometheus.Labels{labelTenant: id})
		}
	})
}

// Refused is a hook for the OnRefused field of tenancy.Config or of the
// middleware configs. The tenant label is set only when the tenant exists
// (suspended, rate limited): an ID that names no tenant is the client's
// choice, and labelling by it would let a flood of random well-formed IDs
// add one series each, without bound. Those refusals are counted under an
// empty tenant, as are missing and malformed identifiers.
func (m *Metrics) Refused(_ *http.Request, f middleware.Refusal) {
	id := ""
	switch f.Reason {
	case middleware.ReasonSuspended, middleware.ReasonRateLimited:
		if !m.wasDeleted(f.TenantID) {
			id = f.TenantID
		}
	}
	m.refused.WithLabelValues(id, string(f.Reason), strconv.Itoa(f.Status)).Inc()
}

// HandleEvent drops the series of a deleted tenant, so that the series
// follow the tenants that exist; the tenant's requests still in flight add
// none when they end, unless a tenant of the same ID is created again (or
// a reset says that events may have been missed).
// Register it with the Service's OnEvent (or a store's Subscribe).
func (m *Metrics) HandleEvent(e store.Event) {
	if e.Type == store.EventReset {
		// Events may have been missed, a creation among them: count
		// every tenant again rather than hide one that exists.
		m.mu.Lock()
		clear(m.deleted)
		m.mu.Unlock()
		return
	}
	if e.TenantID == "" {
		return
	}
	switch e.Type {
	case store.EventCreated:
		m.mu.Lock()
		delete(m.deleted, e.TenantID)
		m.mu.Unlock()
		return
	case store.EventDeleted:
	default:
		return
	}
	now := time.Now()
	m.mu.Lock()
	for id, at := range m.deleted {
		if now.Sub(at) > forgetDeleted {
			delete(m.deleted, id)
		}
	}
	if m.deleted == nil {
		m.deleted = make(map[string]time.Time)
	}
	m.deleted[e.TenantID] = now
	m.mu.Unlock()
	labels := prometheus.Labels{labelTenant: e.TenantID}
	m.requests.DeletePartialMatch(labels)
	m.refused.DeletePartialMatch(labels)
}

// wasDeleted reports whether the tenant id was deleted (and not created
// again) in the last forgetDeleted.
func (m *Metrics) wasDeleted(id string) bool {
	m.mu.RLock()
	at, ok := m.deleted[id]
	m.mu.RUnlock()
	return ok && time.Since(at) <= forgetDeleted
}

// ServeHTTP serves the registry in the format the scraper asks for.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.handler.ServeHTTP(w, r)
}
