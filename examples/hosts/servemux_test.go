package hosts_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// notesAPI is the host's own application: each tenant's notes, kept by
// tenant ID. It trusts the tenant in the request's context, which the
// tenant middleware put there.
type notesAPI struct {
	mu    sync.Mutex
	notes map[string][]string
}

func (a *notesAPI) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenant.FromContext(r.Context())
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<10))
		a.mu.Lock()
		a.notes[t.ID] = append(a.notes[t.ID], string(body))
		a.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenant.FromContext(r.Context())
		a.mu.Lock()
		defer a.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"tenant": t.ID, "notes": a.notes[t.ID]})
	})
	return mux
}

// glue begins: servemux

// newServeMuxHost serves the notes API under /api/ to the tenant named by
// the X-Tenant-ID header, validated through a cache in front of st and
// limited to each tenant's rate, beside a /healthz that needs no tenant.
// onEvent sees each tenant event after the cache has applied it.
func newServeMuxHost(ctx context.Context, st *memstore.Store, onEvent func(store.Event)) (http.Handler, error) {
	res, err := resolve.Header("X-Tenant-ID")
	if err != nil {
		return nil, err
	}
	dir := middleware.NewDirectory(st.Tenants(), middleware.DirectoryConfig{})
	go func() { _ = dir.Run(ctx) }() // which tenants exist: made-up IDs cost no store read
	cache := middleware.NewCache(st.Tenants(), middleware.CacheConfig{Known: dir})
	go func() { _ = st.Subscribe(ctx, func(e store.Event) { cache.Handle(e); onEvent(e) }) }()
	withTenant, err := middleware.Tenant(middleware.TenantConfig{Resolver: res, Cache: cache})
	if err != nil {
		return nil, err
	}
	limit, err := middleware.RateLimit(middleware.RateLimitConfig{Leaser: st})
	if err != nil {
		return nil, err
	}
	api := &notesAPI{notes: map[string][]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.Handle("/api/", http.StripPrefix("/api", withTenant(limit(api.routes()))))
	return mux, nil
}

// glue ends: servemux

func TestServeMuxHost(t *testing.T) {
	ctx := t.Context()
	st := memstore.New(memstore.Config{})
	for _, tn := range []tenant.Tenant{
		{ID: "acme", Name: "ACME", Status: tenant.StatusActive},
		{ID: "globex", Name: "Globex", Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: 3}},
	} {
		_, err := st.Tenants().Create(ctx, &tn)
		require.NoError(t, err)
	}
	events := make(chan store.Event, 64)
	h, err := newServeMuxHost(ctx, st, func(e store.Event) { events <- e })
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	do := func(method, path, tenantID, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if tenantID != "" {
			req.Header.Set("X-Tenant-ID", tenantID)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}

	// Two tenants, each with its own notes.
	code, _ := do("POST", "/api/notes", "acme", "acme's secret")
	require.Equal(t, http.StatusCreated, code)
	code, body := do("GET", "/api/notes", "acme", "")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"tenant":"acme","notes":["acme's secret"]}`, body)
	code, body = do("GET", "/api/notes", "globex", "")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"tenant":"globex","notes":null}`, body, "globex sees none of acme's notes")

	// The refusals of the tenant middleware.
	code, unknown := do("GET", "/api/notes", "initech", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.JSONEq(t, `{"error":"Tenant not found or inactive"}`, unknown)
	code, body = do("GET", "/api/notes", "", "")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.JSONEq(t, `{"error":"Missing tenant identifier"}`, body)
	code, body = do("GET", "/api/notes", "ACME", "")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.JSONEq(t, `{"error":"Invalid tenant identifier"}`, body)
	code, body = do("GET", "/healthz", "", "")
	assert.Equal(t, http.StatusOK, code, "routes outside /api/ need no tenant")
	assert.Equal(t, "ok", body)

	// globex may send 3 requests a minute; it has sent one.
	for range 2 {
		code, _ = do("GET", "/api/notes", "globex", "")
		require.Equal(t, http.StatusOK, code)
	}
	code, body = do("GET", "/api/notes", "globex", "")
	assert.Equal(t, http.StatusTooManyRequests, code)
	assert.JSONEq(t, `{"error":"Rate limit exceeded"}`, body)
	code, _ = do("GET", "/api/notes", "acme", "")
	assert.Equal(t, http.StatusOK, code, "acme has no limit, and globex's is its own")

	// Suspended, acme is answered exactly like a tenant that does not exist,
	// once its event has reached the cache.
	acme, err := st.Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	acme.Status = tenant.StatusSuspended
	_, err = st.Tenants().Update(ctx, acme)
	require.NoError(t, err)
	waitEvent(t, events, store.EventUpdated, "acme")
	code, body = do("GET", "/api/notes", "acme", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, unknown, body)
}
