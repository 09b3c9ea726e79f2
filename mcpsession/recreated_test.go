package mcpsession

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// recreate deletes acme and creates it again, as another organisation
// might, without telling the guard (the events were missed).
func (h *harness) recreate() {
	h.t.Helper()
	_, err := h.mem.Tenants().Delete(h.t.Context(), "acme")
	require.NoError(h.t, err)
	h.clock.Advance(time.Second)
	_, err = h.mem.Tenants().Create(h.t.Context(), &tenant.Tenant{ID: "acme", Name: "acme again", Status: tenant.StatusActive})
	require.NoError(h.t, err)
}

// A session of a tenant that was deleted and created again under its ID
// belongs to the old tenant: the new one's requests do not reach it, even
// when the guard missed the events and its record's absence is not yet
// noticed by a touch.
func TestSessionOfATenantCreatedAgain(t *testing.T) {
	for _, reset := range []bool{false, true} {
		h := newHarness(t)
		id := h.open("acme", anon)
		sb := h.open("globex", bob)
		h.recreate()
		if reset {
			h.guard.HandleEvent(store.Event{Type: store.EventReset})
			h.settle()
		}
		w := h.do(http.MethodPost, "acme", anon, id, `{}`)
		assert.Equal(t, http.StatusNotFound, w.Code, "reset %v: %s", reset, w.Body.String())
		h.settle()
		assert.False(t, h.sdk.holds(id), "reset %v: ended in the handler", reset)
		assert.Equal(t, 1, h.guard.Len(), "reset %v", reset)
		assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "globex", bob, sb, `{}`).Code)
		h.open("acme", anon) // the new tenant opens sessions of its own
	}
}

// After a reset of the event subscription the guard ends, without a
// request, the sessions of a tenant created again since they opened.
func TestResetEndsSessionsOfATenantCreatedAgain(t *testing.T) {
	h := newHarness(t)
	id := h.open("acme", alice)
	sb := h.open("globex", bob)
	h.recreate()
	h.guard.HandleEvent(store.Event{Type: store.EventReset})
	h.settle()
	assert.False(t, h.sdk.holds(id), "ended in the handler")
	assert.True(t, h.sdk.holds(sb))
	assert.Equal(t, 1, h.guard.Len())
}

// The creation event of a tenant the guard holds sessions of, its
// deletion missed, ends them.
func TestCreatedEventEndsSessionsOfTheEarlierTenant(t *testing.T) {
	h := newHarness(t)
	id := h.open("acme", alice)
	h.recreate()
	h.guard.HandleEvent(store.Event{Type: store.EventCreated, TenantID: "acme"})
	h.settle()
	assert.False(t, h.sdk.holds(id), "ended in the handler")
	assert.Zero(t, h.guard.Len())
}
