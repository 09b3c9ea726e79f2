package mcpsession

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// A tenant served without a record (from the host's settings, as
// single-tenant mode serves tenant default) is not gone because the store
// does not have it: a reset of the event subscription, which the Redis
// store sends once it is subscribed and after every reconnection, ended
// every session of it, and every request of it in flight.
func TestResetKeepsSessionsOfATenantServedWithoutRecord(t *testing.T) {
	h := newHarness(t)
	def := &tenant.Tenant{ID: tenant.DefaultID, Name: "default", Status: tenant.StatusActive}
	build := func(method, session, body string) *http.Request {
		r := h.request(method, "acme", alice, session, body)
		return r.WithContext(oidcx.NewContext(tenant.NewContext(r.Context(), def),
			&oidcx.Claims{TenantID: def.ID, Issuer: alice.iss, Subject: alice.sub}))
	}
	w := httptest.NewRecorder()
	h.guard.ServeHTTP(w, build(http.MethodPost, "", initBody))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	id := w.Header().Get(Header)
	require.NotEmpty(t, id)

	h.guard.HandleEvent(store.Event{Type: store.EventReset})
	h.guard.HandleEvent(store.Event{Type: store.EventUpdated, TenantID: def.ID})
	h.settle()
	assert.True(t, h.sdk.holds(id), "the session stays")
	w = httptest.NewRecorder()
	h.guard.ServeHTTP(w, build(http.MethodPost, id, `{}`))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
}
