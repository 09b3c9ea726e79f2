package scenario

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// BenchmarkSessionMemory opens b.N sessions (initialize, then
// notifications/initialized) through the guarded handler that newHandler
// builds, on the real Redis, and reports what one open session holds: Go
// heap, goroutines and their stacks, and Redis memory. Each session has an owner of its own,
// as many callers would. Run it with a fixed count, such as
// -benchtime=2000x; the time per operation is not the point.
func BenchmarkSessionMemory(b *testing.B, newHandler func(guard mcpsession.Config) Handler) {
	rdb := testredis.Standalone(b)
	ctx := context.Background()
	st := redisstore.New(rdb, redisstore.Config{})
	h := newHandler(mcpsession.Config{Sessions: st.Sessions(), Tenants: st.Tenants(), PerCaller: -1,
		Logger: slog.New(slog.DiscardHandler)})
	acme := &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive}
	// The store keeps sessions of tenants it holds only.
	if _, err := st.Tenants().Create(ctx, acme); err != nil && !errors.Is(err, store.ErrExists) {
		b.Fatal(err)
	}
	post := func(sub, session, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Authorization", "Bearer verified") // the claims below stand for its verification
		if session != "" {
			r.Header.Set(SessionHeader, session)
			r.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		c := &oidcx.Claims{TenantID: "acme", Issuer: "https://idp.example", Subject: sub, Expiry: time.Now().Add(time.Hour)}
		r = r.WithContext(oidcx.NewContext(tenant.NewContext(r.Context(), acme), c))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	redisMem := func() int64 {
		info, err := rdb.Info(ctx, "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		b.Fatal("no used_memory in INFO")
		return 0
	}
	heap := func() (uint64, uint64, int) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse, m.StackInuse, runtime.NumGoroutine()
	}
	post("warm-up", "", InitializeBody) // the first session pays for what all share
	heap0, stack0, g0 := heap()
	r0 := redisMem()
	n := 0
	for b.Loop() {
		n++
		sub := fmt.Sprintf("user-%d", n)
		w := post(sub, "", InitializeBody)
		id := w.Header().Get(SessionHeader)
		if w.Code != http.StatusOK || id == "" {
			b.Fatalf("initialize: %d %s", w.Code, w.Body)
		}
		if w := post(sub, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); w.Code != http.StatusAccepted {
			b.Fatalf("initialized: %d %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	heap1, stack1, g1 := heap()
	r1 := redisMem()
	if h.Len() != n+1 {
		b.Fatalf("the guard holds %d sessions, want %d", h.Len(), n+1)
	}
	b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/session")
	b.ReportMetric(float64(stack1-stack0)/float64(n), "stack-B/session")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/session")
	b.ReportMetric(float64(r1-r0)/float64(n), "redis-B/session")
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := h.Close(closeCtx); err != nil {
		b.Fatal(err)
	}
}
