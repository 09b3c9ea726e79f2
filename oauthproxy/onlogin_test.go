package oauthproxy_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// TestOnLogin: the hook hears of each code redeemed, once, with its
// tenant, client and the provider's subject; a refresh, a refused code
// and a code used twice are no logins.
func TestOnLogin(t *testing.T) {
	type login struct{ tenant, client, subject string }
	var (
		mu     sync.Mutex
		logins []login
	)
	h := newHarness(t, bySubdomain, memBackend, func(c *oauthproxy.Config) {
		c.OnLogin = func(r *http.Request, tenantID, clientID, subject string) {
			mu.Lock()
			logins = append(logins, login{tenantID, clientID, subject})
			mu.Unlock()
		}
	})
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	idpA.SetSubject("alice")
	idpB.SetSubject("bob")
	h.addTenant("acme", idpA, "acme-upstream-secret")
	h.addTenant("globex", idpB, "")
	var want []login
	for _, id := range []string{"acme", "globex"} {
		c := h.discover(id)
		c.register("client of " + id)
		code := c.login(h.browser(id)).Get("code")
		a := c.redeem(code)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		want = append(want, login{id, c.id, map[string]string{"acme": "alice", "globex": "bob"}[id]})
		assert.Equal(t, http.StatusBadRequest, c.redeem(code).status, "a code works once")
		assert.Equal(t, http.StatusOK, c.refresh(a.json(t)["refresh_token"].(string)).status)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, logins)
}
