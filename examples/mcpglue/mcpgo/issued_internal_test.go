package mcpgo

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// newGuarded returns mcp-go behind the guard on a memstore, and a
// function that builds requests of alice at tenant acme as they reach the
// handler behind the tenant middleware and the bearer check.
func newGuarded(t *testing.T) (*Handler, *memstore.Store, func(ctx context.Context, method, session, body string) *http.Request) {
	t.Helper()
	mem := memstore.New(memstore.Config{})
	acme, err := mem.Tenants().Create(t.Context(), &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive})
	require.NoError(t, err)
	s := server.NewMCPServer("test", "1")
	h, err := New(s, Config{Guard: mcpsession.Config{Sessions: mem.Sessions(), Tenants: mem.Tenants(),
		Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	build := func(ctx context.Context, method, session, body string) *http.Request {
		r := httptest.NewRequestWithContext(ctx, method, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			r.Header.Set(mcpsession.Header, session)
			r.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		c := &oidcx.Claims{TenantID: "acme", Issuer: "https://idp.example", Subject: "alice", Expiry: time.Now().Add(time.Hour)}
		return r.WithContext(oidcx.NewContext(tenant.NewContext(r.Context(), acme), c))
	}
	return h, mem, build
}

func (m *sessionIDs) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live)
}

// An initialize whose client hung up before the answer, which then never
// carries the session ID, leaves nothing behind: the ID manager holds only
// the sessions the guard admitted.
func TestHungUpInitializeLeavesNoID(t *testing.T) {
	h, _, build := newGuarded(t)
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the client is gone
		w := httptest.NewRecorder()
		h.ServeHTTP(w, build(ctx, http.MethodPost, "", initializeBody))
		require.Empty(t, w.Header().Get(mcpsession.Header))
	}
	assert.Zero(t, h.Len(), "no session was admitted")
	assert.Zero(t, h.ids.count(), "IDs the client never got")
}

// A GET without a session ID opens no event stream: mcp-go would open one
// under an ID of its own that no limit counts and that the guard, not
// knowing it, does not end when the tenant is suspended or the server
// shuts down. It is answered 400, as the official Go SDK answers it.
func TestGetWithoutSessionOpensNoStream(t *testing.T) {
	h, _, build := newGuarded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := build(r.Context(), r.Method, r.Header.Get(mcpsession.Header), "")
		req.Host = r.Host
		h.ServeHTTP(w, req)
	}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Zero(t, h.ids.count())
}

// A GET naming a session that this server did not issue (another
// replica's, whose record the guard found in the store) is answered 404,
// as mcp-go answers a POST: mcp-go would open an event stream for it,
// which the guard does not hold and so would not end on the tenant's
// suspension or on Close.
func TestGetOfAnotherServersSession(t *testing.T) {
	h, mem, build := newGuarded(t)
	_, err := mem.Sessions().Admit(t.Context(), "acme", "REMOTE", store.Owner{Issuer: "https://idp.example", Subject: "alice"}, store.SessionLimits{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	w := httptest.NewRecorder()
	r := build(ctx, http.MethodGet, "REMOTE", "")
	r.Header.Set("Accept", "text/event-stream")
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusNotFound, w.Code)
	_, err = mem.Sessions().Get(t.Context(), "acme", "REMOTE")
	assert.ErrorIs(t, err, store.ErrNotFound, "the guard freed the place of a session no server holds")
}
