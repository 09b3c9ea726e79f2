package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// The kinds of request the workers send.
const (
	kindMeta         = "metadata"
	kindInit         = "mcp-initialize"
	kindNotify       = "mcp-initialized"
	kindCall         = "mcp-whoami"
	kindDelete       = "mcp-delete"
	kindRegister     = "register"
	kindAuthorize    = "authorize"          // the consent page
	kindAuthorizeOff = "authorize-no-proxy" // a tenant without an upstream client: 404
	kindApprove      = "consent-approve"
	kindIdP          = "provider-login" // sent to the tenant's provider, not to the server
	kindCallback     = "callback"
	kindToken        = "token"
	kindRevoke       = "revoke"
	kindForeign      = "authorize-foreign"
	kindForeignToken = "mcp-foreign-token"
)

// isMCP reports whether kind is a request of an MCP session.
func isMCP(kind string) bool {
	return kind == kindInit || kind == kindNotify || kind == kindCall || kind == kindDelete
}

// event is one answered (or failed) request.
type event struct {
	at     time.Duration // since the start of the run
	lat    time.Duration
	kind   string
	status int // 0: no answer (transport error or timeout)
	ok     bool
	victim bool // sent to the scenario's victim tenant
}

// mark is a moment of the scenario, such as the injection of a fault.
type mark struct {
	at   time.Duration
	what string
}

// recorder collects events from every worker.
type recorder struct {
	start time.Time

	mu      sync.Mutex
	events  []event
	marks   []mark
	crosses []string // cross-tenant answers
	errs    map[string]int
	// noRetryAfter counts, by kind, the 503 and 429 answers without
	// Retry-After.
	noRetryAfter map[string]int
}

func newRecorder() *recorder {
	return &recorder{start: time.Now(), errs: map[string]int{}, noRetryAfter: map[string]int{}}
}

func (r *recorder) missingRetryAfter(kind string) {
	r.mu.Lock()
	r.noRetryAfter[kind]++
	r.mu.Unlock()
}

func (r *recorder) now() time.Duration { return time.Since(r.start) }

func (r *recorder) add(evs []event) {
	r.mu.Lock()
	r.events = append(r.events, evs...)
	r.mu.Unlock()
}

func (r *recorder) mark(what string) time.Duration {
	at := r.now()
	r.mu.Lock()
	r.marks = append(r.marks, mark{at, what})
	r.mu.Unlock()
	return at
}

func (r *recorder) cross(format string, args ...any) {
	r.mu.Lock()
	r.crosses = append(r.crosses, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) transportError(err error) {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	r.mu.Lock()
	r.errs[msg]++
	r.mu.Unlock()
}

// window returns the events within [from, to).
func (r *recorder) window(from, to time.Duration, keep func(event) bool) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event
	for _, e := range r.events {
		if e.at >= from && e.at < to && (keep == nil || keep(e)) {
			out = append(out, e)
		}
	}
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// summary writes one line per kind: count, rate, failures by status, and
// latency percentiles of the requests.
func summary(w io.Writer, evs []event, span time.Duration) {
	byKind := map[string][]event{}
	for _, e := range evs {
		byKind[e.kind] = append(byKind[e.kind], e)
	}
	fmt.Fprintf(w, "| kind | requests | per second | unexpected answers | p50 | p99 | max |\n|---|---:|---:|---|---:|---:|---:|\n")
	kinds := slices.Sorted(maps.Keys(byKind))
	kinds = append(kinds, "all")
	byKind["all"] = evs
	for _, k := range kinds {
		es := byKind[k]
		lats := make([]time.Duration, len(es))
		bad := map[int]int{}
		for i, e := range es {
			lats[i] = e.lat
			if !e.ok {
				bad[e.status]++
			}
		}
		slices.Sort(lats)
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s |\n", k, len(es), float64(len(es))/span.Seconds(),
			statusCounts(bad), ms(percentile(lats, 0.50)), ms(percentile(lats, 0.99)), ms(percentile(lats, 1)))
	}
}

// refusals writes the expected answers that refuse something (a status
// of 400 or more), by kind: the other tenants' clients and tokens, the
// authorize endpoint of tenants without an upstream client, the
// registration limit.
func refusals(w io.Writer, evs []event) {
	byKind := map[string]map[int]int{}
	for _, e := range evs {
		if e.ok && e.status >= 400 {
			if byKind[e.kind] == nil {
				byKind[e.kind] = map[int]int{}
			}
			byKind[e.kind][e.status]++
		}
	}
	if len(byKind) == 0 {
		return
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		parts = append(parts, k+" "+statusCounts(byKind[k]))
	}
	fmt.Fprintf(w, "\nexpected refusals among them: %s\n", strings.Join(parts, ", "))
}

// statusCounts formats a status histogram as "503×12 0×3", or "none".
func statusCounts(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d×%d", s, m[s]))
	}
	return strings.Join(parts, " ")
}

// timeline writes, second by second within [from, to), the answers of the
// victim's requests and of everyone else's: good ones and the others by
// status, and the p99 latency.
func timeline(w io.Writer, r *recorder, from, to time.Duration) {
	evs := r.window(from, to, nil)
	type sec struct {
		good, vgood int
		bad, vbad   map[int]int
		lats        []time.Duration
		vlats       []time.Duration
	}
	secs := map[int]*sec{}
	for _, e := range evs {
		i := int(e.at / time.Second)
		s := secs[i]
		if s == nil {
			s = &sec{bad: map[int]int{}, vbad: map[int]int{}}
			secs[i] = s
		}
		switch {
		case e.victim && e.ok:
			s.vgood++
			s.vlats = append(s.vlats, e.lat)
		case e.victim:
			s.vbad[e.status]++
			s.vlats = append(s.vlats, e.lat)
		case e.ok:
			s.good++
			s.lats = append(s.lats, e.lat)
		default:
			s.bad[e.status]++
			s.lats = append(s.lats, e.lat)
		}
	}
	r.mu.Lock()
	marks := slices.Clone(r.marks)
	r.mu.Unlock()
	fmt.Fprintf(w, "| second | others: good | others: unexpected | others: p99 | victim: good | victim: unexpected | victim: p99 | events |\n|---:|---:|---|---:|---:|---|---:|---|\n")
	for _, i := range slices.Sorted(maps.Keys(secs)) {
		s := secs[i]
		slices.Sort(s.lats)
		slices.Sort(s.vlats)
		var notes []string
		for _, m := range marks {
			if int(m.at/time.Second) == i {
				notes = append(notes, fmt.Sprintf("%.1fs %s", m.at.Seconds(), m.what))
			}
		}
		fmt.Fprintf(w, "| %d | %d | %s | %s | %d | %s | %s | %s |\n", i, s.good, statusCounts(s.bad), ms(percentile(s.lats, 0.99)),
			s.vgood, statusCounts(s.vbad), ms(percentile(s.vlats, 0.99)), strings.Join(notes, "; "))
	}
}

// failures returns the first and last unexpected answer of the events
// that keep selects, at or after from.
func failures(r *recorder, from time.Duration, keep func(event) bool) (first, last time.Duration, n int, statuses map[int]int) {
	statuses = map[int]int{}
	for _, e := range r.window(from, 1<<62, keep) {
		if e.ok {
			continue
		}
		if n == 0 || e.at < first {
			first = e.at
		}
		last = max(last, e.at+e.lat)
		n++
		statuses[e.status]++
	}
	return first, last, n, statuses
}

// sample is one reading of the server's goroutines and memory.
type sample struct {
	at         time.Duration
	goroutines int64
	heapInuse  int64
	rss        int64
}

func sampleTable(w io.Writer, ss []sample) {
	if len(ss) == 0 {
		return
	}
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "| at | goroutines | heap in use | RSS |\n|---:|---:|---:|---:|\n")
	for _, s := range ss {
		fmt.Fprintf(w, "| %.0fs | %d | %s | %s |\n", s.at.Seconds(), s.goroutines, mib(s.heapInuse), mib(s.rss))
	}
	mx := slices.MaxFunc(ss, func(a, b sample) int { return cmp.Compare(a.heapInuse, b.heapInuse) })
	mg := slices.MaxFunc(ss, func(a, b sample) int { return cmp.Compare(a.goroutines, b.goroutines) })
	mr := slices.MaxFunc(ss, func(a, b sample) int { return cmp.Compare(a.rss, b.rss) })
	first, last := ss[0], ss[len(ss)-1]
	fmt.Fprintf(w, "\ngoroutines first/last/max: %d / %d / %d; heap in use first/last/max: %s / %s / %s; RSS first/last/max: %s / %s / %s\n",
		first.goroutines, last.goroutines, mg.goroutines, mib(first.heapInuse), mib(last.heapInuse), mib(mx.heapInuse),
		mib(first.rss), mib(last.rss), mib(mr.rss))
}
