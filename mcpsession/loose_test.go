package mcpsession

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

const listenBody = `{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{}}`

// A request naming no session, such as the subscriptions/listen stream of
// a protocol without sessions, which stays open as long as the client
// keeps it, ends as a session's GET stream does: when its token expires,
// when its tenant is suspended (or deleted), and on Close. Before, the
// guard did not hold it, and it delivered the server's messages for as
// long as the client kept it.
func TestStreamNamingNoSessionEnds(t *testing.T) {
	listen := func(t *testing.T, h *harness, expiry time.Time, session ...string) (done chan struct{}) {
		t.Helper()
		r := h.request(http.MethodPost, "acme", alice, strings.Join(session, ""), listenBody)
		if len(session) > 0 {
			r.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		}
		r = r.WithContext(oidcx.NewContext(r.Context(),
			&oidcx.Claims{TenantID: "acme", Issuer: alice.iss, Subject: alice.sub, Expiry: expiry}))
		streaming := make(chan struct{})
		done = make(chan struct{})
		go func() {
			defer close(done)
			h.guard.ServeHTTP(&notifyRecorder{ResponseRecorder: httptest.NewRecorder(), flushed: streaming}, r)
		}()
		<-streaming
		return done
	}
	ended := func(t *testing.T, done chan struct{}, why string) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the stream is still open " + why)
		}
	}
	t.Run("its token expires", func(t *testing.T) {
		h := newHarness(t)
		done := listen(t, h, time.Now().Add(300*time.Millisecond-oidcx.DefaultSkew))
		ended(t, done, "after its token expired")
	})
	t.Run("it names a held session, which a protocol without sessions ignores", func(t *testing.T) {
		h := newHarness(t)
		done := listen(t, h, time.Now().Add(300*time.Millisecond-oidcx.DefaultSkew), h.open("acme", alice))
		ended(t, done, "after its token expired")
	})
	t.Run("it names a session another guard holds", func(t *testing.T) {
		h := newHarness(t)
		_, err := h.mem.Sessions().Admit(t.Context(), "acme", "remote", alice.owner(), store.SessionLimits{})
		require.NoError(t, err)
		done := listen(t, h, time.Now().Add(time.Hour), "remote")
		require.NoError(t, h.guard.Close(context.Background()))
		ended(t, done, "after Close")
	})
	t.Run("its tenant is suspended", func(t *testing.T) {
		h := newHarness(t)
		done := listen(t, h, time.Now().Add(time.Hour))
		acme, err := h.mem.Tenants().Get(t.Context(), "acme")
		require.NoError(t, err)
		acme.Status = tenant.StatusSuspended
		_, err = h.mem.Tenants().Update(t.Context(), acme)
		require.NoError(t, err)
		h.guard.HandleEvent(store.Event{Type: store.EventUpdated, TenantID: "acme"})
		ended(t, done, "after its tenant was suspended")
	})
	t.Run("its tenant is deleted", func(t *testing.T) {
		h := newHarness(t)
		done := listen(t, h, time.Now().Add(time.Hour))
		h.guard.HandleEvent(store.Event{Type: store.EventDeleted, TenantID: "acme"})
		ended(t, done, "after its tenant was deleted")
	})
	t.Run("Close", func(t *testing.T) {
		h := newHarness(t)
		done := listen(t, h, time.Now().Add(time.Hour))
		require.NoError(t, h.guard.Close(context.Background()))
		ended(t, done, "after Close")
		assert.Equal(t, http.StatusServiceUnavailable, h.do(http.MethodPost, "acme", alice, "", listenBody).Code)
	})
}
