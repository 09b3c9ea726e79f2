package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// A tenant limited to 2 requests a minute: a limit this small is spent in
// leases of one request, so it is exact even across replicas.
func ExampleRateLimit() {
	st := memstore.New(memstore.Config{}) // in production, a redisstore.Store
	limit, err := middleware.RateLimit(middleware.RateLimitConfig{
		Leaser:    st,
		OnRefused: func(*http.Request, middleware.Refusal) {}, // the audit hook; a log line by default
	})
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := limit(app)

	acme := &tenant.Tenant{ID: "acme", Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: 2}}
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req = req.WithContext(tenant.NewContext(req.Context(), acme)) // what middleware.Tenant does
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("RateLimit-Limit"), rec.Header().Get("RateLimit-Remaining"))
	}
	// Output:
	// 200 2 1
	// 200 2 0
	// 429 2 0
}
