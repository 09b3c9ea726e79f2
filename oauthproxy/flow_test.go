package oauthproxy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// twoTenants returns a harness with tenant acme on one provider (a
// confidential upstream client, endpoints found by discovery) and tenant
// globex on another (a public upstream client, endpoints configured).
func twoTenants(t *testing.T, m mode, be backend) *harness {
	h := newHarness(t, m, be)
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	idpA.SetSubject("alice")
	idpB.SetSubject("bob")
	h.addTenant("acme", idpA, "acme-upstream-secret")
	h.addTenant("globex", idpB, "", func(tt *tenant.Tenant) {
		tt.OIDC.AuthorizationURL = idpB.AuthorizeURL()
		tt.OIDC.TokenURL = idpB.TokenURL()
		tt.OIDC.RevocationURL = idpB.RevocationURL()
	})
	return h
}

// TestFlow runs the whole flow, exactly as an MCP client and a user's
// browser do, for two tenants on two providers, in each identification
// mode, on memstore and miniredis.
func TestFlow(t *testing.T) {
	for _, m := range modes {
		for name, be := range map[string]backend{"memstore": memBackend, "miniredis": miniBackend} {
			t.Run(string(m)+"/"+name, func(t *testing.T) {
				runFlow(t, twoTenants(t, m, be))
			})
		}
	}
}

// TestFlowRedis runs the whole flow on the real Redis.
func TestFlowRedis(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			h := twoTenants(t, m, realBackend)
			runFlow(t, h)
			// Everything the flows left is in the tenants' namespaces.
			keys, err := h.st.rdb.Keys(t.Context(), "*").Result()
			require.NoError(t, err)
			for _, k := range keys {
				if strings.Contains(k, ":oauth:") {
					assert.Regexp(t, `^tenant:\{(acme|globex)\}:oauth:(tx|code|refresh):[A-Za-z0-9_-]{43}$`, k)
				}
			}
		})
	}
}

func runFlow(t *testing.T, h *harness) {
	subjects := map[string]string{"acme": "alice", "globex": "bob"}
	tokens := map[string]string{}
	for _, id := range []string{"acme", "globex"} {
		idp := h.idps[id]
		c := h.discover(id)
		assert.Equal(t, h.base(id)+"/oauth/token", c.meta["token_endpoint"])
		assert.Equal(t, []any{"S256"}, c.meta["code_challenge_methods_supported"])
		assert.Equal(t, true, c.meta["authorization_response_iss_parameter_supported"])
		c.register("Test client of " + id)

		q := c.login(h.browser(id))
		require.Empty(t, q.Get("error"), "%v", q)
		assert.Equal(t, c.state, q.Get("state"))
		assert.Equal(t, c.issuer, q.Get("iss"), "RFC 9207")

		a := c.redeem(q.Get("code"))
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
		tok := a.json(t)
		assert.Equal(t, "Bearer", tok["token_type"])
		assert.NotEmpty(t, tok["expires_in"])
		access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
		require.NotEmpty(t, access)
		require.NotEmpty(t, refresh)

		// The token is the tenant provider's, and the bearer check of
		// the tenant's MCP endpoint accepts it.
		a = c.mcp(access)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.Equal(t, map[string]any{"tenant": id, "subject": subjects[id]}, a.json(t))
		tokens[id] = access

		// Refresh, rotated by the provider: the old refresh token is
		// refused by the proxy from now on.
		a = c.refresh(refresh)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		fresh := a.json(t)
		newRefresh := fresh["refresh_token"].(string)
		assert.NotEqual(t, refresh, newRefresh)
		assert.Equal(t, http.StatusOK, c.mcp(fresh["access_token"].(string)).status)
		a = c.refresh(refresh)
		assert.Equal(t, http.StatusBadRequest, a.status)
		assert.Equal(t, "invalid_grant", a.json(t)["error"])

		// Revoke: forwarded to the provider, and refused from then on.
		a = c.revoke(newRefresh)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.True(t, idp.Revoked(newRefresh), "the provider revoked it")
		a = c.refresh(newRefresh)
		assert.Equal(t, "invalid_grant", a.json(t)["error"])
	}
	// One tenant's token is no use at the other.
	c := h.discover("globex")
	assert.Equal(t, http.StatusUnauthorized, c.mcp(tokens["acme"]).status)
}

// TestConsentPage checks the page a user decides on: what it shows, that
// nothing the client registered is markup, and the headers that keep it
// from being framed or scripted.
func TestConsentPage(t *testing.T) {
	h := twoTenants(t, byPath, memBackend)
	c := h.discover("acme")
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>"' & <a href="javascript:x">`
	// A redirect URI with markup in it is not a URI.
	a := c.postJSON(c.endpoint("registration_endpoint"), map[string]any{"redirect_uris": []string{`http://127.0.0.1:53682/cb?x=<b>&y="q"`}})
	require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
	assert.Equal(t, "invalid_redirect_uri", a.json(t)["error"])

	c.redirect = "http://127.0.0.1:53682/cb?x=%3Cb%3E&y=1"
	a = c.postJSON(c.endpoint("registration_endpoint"), map[string]any{
		"client_name": evil, "redirect_uris": []string{c.redirect},
		"client_uri": "https://evil.example/<script>", "logo_uri": "https://evil.example/logo.png",
	})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	c.id = a.json(t)["client_id"].(string)

	b := h.browser("acme")
	page := b.get(c.authorizeURL("state", `"><script>alert(3)</script>`))
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	body := string(page.body)
	for _, raw := range []string{"<script", "<img", `<a `, "<b>", `href="javascript`, "evil.example"} {
		assert.NotContains(t, body, raw, "nothing registered is markup, and nothing unasked is shown")
	}
	assert.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;", "the name is shown as text")
	assert.Contains(t, body, "Tenant ACME")
	assert.Contains(t, body, "127.0.0.1:53682", "the redirect host")
	assert.Contains(t, body, "Approve")
	assert.Contains(t, body, "Deny")

	csp := page.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'sha256-"} {
		assert.Contains(t, csp, d)
	}
	assert.NotContains(t, csp, "unsafe")
	assert.NotContains(t, csp, "script-src")
	assert.Equal(t, "DENY", page.header.Get("X-Frame-Options"))
	assert.Equal(t, "no-store", page.header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", page.header.Get("Referrer-Policy"))
	assert.Equal(t, "text/html; charset=utf-8", page.header.Get("Content-Type"))
	cookie := page.header.Get("Set-Cookie")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Lax")

	// Approving, the state comes back to the client encoded, and the
	// registered query is kept.
	q := c.approve(b, parseConsent(t, page))
	require.Empty(t, q.Get("error"), "%v", q)
	assert.Equal(t, `"><script>alert(3)</script>`, q.Get("state"))
	assert.Equal(t, "<b>", q.Get("x"), "the registered query is kept")
	assert.NotEmpty(t, q.Get("code"))

	// An error redirect carries the state encoded too.
	a = must(t)(b.hc.Get(c.authorizeURL("state", `<x>`, "response_type", "token")))
	require.Equal(t, http.StatusFound, a.status)
	loc := a.header.Get("Location")
	assert.NotContains(t, loc, "<")
	assert.True(t, strings.HasPrefix(loc, c.redirect+"&"), loc)
	assert.Equal(t, "unsupported_response_type", a.location(t).Query().Get("error"))
}

// TestConsentCookieSecureOnHTTPS checks the cookie's attributes for an
// https issuer: the __Host- prefix and Secure.
func TestConsentCookieSecureOnHTTPS(t *testing.T) {
	h := newHarness(t, byPath, memBackend, func(c *oauthproxy.Config) {
		e, err := oidcx.PathURLs("https://seed.example.com")
		require.NoError(t, err)
		c.URLs = e
	})
	h.addTenant("acme", oidctest.New(t), "")
	c := &mcpClient{h: h, tenant: "acme", hc: h.client("acme"), redirect: "https://app.example/cb", resource: "https://seed.example.com/acme/mcp"}
	c.meta = map[string]any{"authorization_endpoint": h.public + "/acme/oauth/authorize"}
	a := must(t)(h.client("acme").Post(h.public+"/acme/oauth/register", "application/json",
		strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`)))
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	c.id = a.json(t)["client_id"].(string)
	a = h.browser("acme").get(c.authorizeURL())
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	cookie := a.header.Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(cookie, "__Host-oauth-consent="), cookie)
	assert.Contains(t, cookie, "Secure")
	assert.Contains(t, cookie, "Path=/")
	assert.NotContains(t, cookie, "Domain")
	assert.Contains(t, string(a.body), `action="https://seed.example.com/acme/oauth/authorize"`)
}
