package mcpgo

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
)

const listenBody = `{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`

// flushed is a recorder that reports its first flush: the stream is open.
type flushed struct {
	*httptest.ResponseRecorder
	open chan struct{}
	once bool
}

func (f *flushed) Flush() {
	f.ResponseRecorder.Flush()
	if !f.once {
		f.once = true
		close(f.open)
	}
}

// A subscriptions/listen stream of protocol 2026-07-28, which a client
// opens with a POST naming no session, lasts no longer than the token it
// was opened with, as a GET stream does.
func TestListenStreamEndsWithItsToken(t *testing.T) {
	h, build := newListenHandler(t)
	w := listenUntilExpiry(t, h, build, "")
	assert.Equal(t, http.StatusOK, w.Code)
}

// A subscriptions/listen request that names a session of the caller's
// (which mcp-go ignores for protocol 2026-07-28) ends with its token too.
func TestListenStreamNamingASessionEndsWithItsToken(t *testing.T) {
	h, build := newListenHandler(t)
	iw := httptest.NewRecorder()
	h.ServeHTTP(iw, build(context.Background(), http.MethodPost, "", initializeBody))
	id := iw.Header().Get(mcpsession.Header)
	require.NotEmpty(t, id, "%d %s", iw.Code, iw.Body)
	listenUntilExpiry(t, h, build, id)
}

// newListenHandler returns a guarded mcp-go handler with tools, and the
// builder of its requests.
func newListenHandler(t *testing.T) (*Handler, requestBuilder) {
	t.Helper()
	_, mem, build := newGuarded(t)
	h, err := New(server.NewMCPServer("test", "1", server.WithToolCapabilities(true)),
		Config{Guard: mcpsession.Config{Sessions: mem.Sessions(), Tenants: mem.Tenants(), Logger: slog.New(slog.DiscardHandler)}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h, build
}

// listenUntilExpiry opens a subscriptions/listen stream naming session
// ("" for none) with a token that expires 300 ms from now (skew
// included), and fails unless the stream opens and then ends within 3 s.
func listenUntilExpiry(t *testing.T, h http.Handler, build requestBuilder, session string) *flushed {
	t.Helper()
	r := build(context.Background(), http.MethodPost, session, listenBody)
	r.Header.Set(mcp.HeaderProtocolVersion, mcp.ProtocolVersion20260728)
	r.Header.Set(mcp.HeaderMethod, string(mcp.MethodSubscriptionsListen))
	c, _ := oidcx.ClaimsFromContext(r.Context())
	c.Expiry = time.Now().Add(300*time.Millisecond - oidcx.DefaultSkew)
	w := &flushed{ResponseRecorder: httptest.NewRecorder(), open: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, r)
	}()
	select {
	case <-w.open:
	case <-done:
		t.Fatalf("no stream: %d %s", w.Code, w.Body)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the listen stream is still open after its token expired")
	}
	return w
}

// requestBuilder builds a request of the tenant acme's caller, as
// newGuarded's third result does.
type requestBuilder = func(ctx context.Context, method, session, body string) *http.Request
