// Package metrics is an example of per-tenant metrics built on the hooks of
// the tenancy middleware, without a metrics library: request counts and
// latency by tenant and status, refusals by reason, written in the
// Prometheus text format.
//
// Wire it around the tenancy middleware:
//
//	m := metrics.New()
//	cfg.OnRefused = m.Refused // refusals by reason (also 404s, 429s)
//	svc, _ := tenancy.New(cfg)
//	http.Handle("/", svc.Middleware(m.Measure(app)))
//	http.Handle("/metrics", m)
//
// Measure sits inside the tenant middleware, so it sees the tenant of every
// request that got through; refusals never reach it and are counted by the
// Refused hook instead.
package metrics

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/tenant"
)

// buckets are the upper bounds, in seconds, of the latency histogram.
var buckets = []float64{0.001, 0.005, 0.025, 0.1, 0.5, 2.5}

// Metrics counts requests by tenant and status, and refusals by reason.
// The zero value is not usable; call New.
type Metrics struct {
	mu       sync.Mutex
	requests map[series]*histogram
	refused  map[refusal]int64
}

type series struct {
	tenant string
	status int
}

type refusal struct {
	tenant string
	reason middleware.Reason
	status int
}

type histogram struct {
	count  int64
	sum    time.Duration
	bucket []int64 // cumulative counts per bucket
}

// New returns empty metrics.
func New() *Metrics {
	return &Metrics{requests: map[series]*histogram{}, refused: map[refusal]int64{}}
}

// Measure returns next wrapped so that each request is counted under its
// tenant and answer status, with its latency.
func (m *Metrics) Measure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		id, _ := tenant.IDFromContext(r.Context())
		m.observe(series{tenant: id, status: sw.status}, time.Since(start))
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
		id = f.TenantID
	}
	m.mu.Lock()
	m.refused[refusal{tenant: id, reason: f.Reason, status: f.Status}]++
	m.mu.Unlock()
}

func (m *Metrics) observe(s series, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.requests[s]
	if h == nil {
		h = &histogram{bucket: make([]int64, len(buckets))}
		m.requests[s] = h
	}
	h.count++
	h.sum += d
	for i, le := range buckets {
		if d.Seconds() <= le {
			h.bucket[i]++
		}
	}
}

// ServeHTTP writes the metrics in the Prometheus text format, followed by
// the process's goroutine count and heap in use, read with runtime/metrics
// (which does not stop the world), so that a leak shows on the same page.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	defer writeRuntime(w)
	fmt.Fprintln(w, "# TYPE tenancy_requests_seconds histogram")
	keys := make([]series, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b series) int {
		if a.tenant != b.tenant {
			return cmp.Compare(a.tenant, b.tenant)
		}
		return a.status - b.status
	})
	for _, k := range keys {
		h := m.requests[k]
		labels := fmt.Sprintf(`tenant=%q,status="%d"`, k.tenant, k.status)
		for i, le := range buckets {
			fmt.Fprintf(w, "tenancy_requests_seconds_bucket{%s,le=\"%s\"} %d\n", labels, strconv.FormatFloat(le, 'g', -1, 64), h.bucket[i])
		}
		fmt.Fprintf(w, "tenancy_requests_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, h.count)
		fmt.Fprintf(w, "tenancy_requests_seconds_sum{%s} %g\n", labels, h.sum.Seconds())
		fmt.Fprintf(w, "tenancy_requests_seconds_count{%s} %d\n", labels, h.count)
	}
	fmt.Fprintln(w, "# TYPE tenancy_refused_total counter")
	refs := make([]refusal, 0, len(m.refused))
	for k := range m.refused {
		refs = append(refs, k)
	}
	slices.SortFunc(refs, func(a, b refusal) int {
		if c := cmp.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		return cmp.Compare(string(a.reason), string(b.reason))
	})
	for _, k := range refs {
		fmt.Fprintf(w, "tenancy_refused_total{tenant=%q,reason=%q,status=\"%d\"} %d\n", k.tenant, k.reason, k.status, m.refused[k])
	}
}

// The runtime/metrics samples behind the process gauges. Heap in use is
// what runtime.MemStats calls HeapInuse: spans holding objects, live or
// not yet swept, plus their unused space.
var runtimeSamples = []string{
	"/sched/goroutines:goroutines",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
}

// writeRuntime writes the process gauges under the names the Prometheus
// Go client uses.
func writeRuntime(w io.Writer) {
	s := make([]rtmetrics.Sample, len(runtimeSamples))
	for i, name := range runtimeSamples {
		s[i].Name = name
	}
	rtmetrics.Read(s)
	fmt.Fprintln(w, "# TYPE go_goroutines gauge")
	fmt.Fprintf(w, "go_goroutines %d\n", s[0].Value.Uint64())
	fmt.Fprintln(w, "# TYPE go_memstats_heap_inuse_bytes gauge")
	fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\n", s[1].Value.Uint64()+s[2].Value.Uint64())
}

// statusWriter records the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer
// (flushing, deadlines), which streaming MCP responses need.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
