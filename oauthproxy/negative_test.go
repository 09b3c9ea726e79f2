package oauthproxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// ready returns a harness with acme and globex and a registered client of
// each, discovered as an MCP client does.
func ready(t *testing.T, m mode, configure ...func(*oauthproxy.Config)) (*harness, *mcpClient, *mcpClient) {
	h := newHarness(t, m, memBackend, configure...)
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	idpA.SetSubject("alice")
	idpB.SetSubject("bob")
	h.addTenant("acme", idpA, "acme-upstream-secret")
	h.addTenant("globex", idpB, "")
	a, b := h.discover("acme"), h.discover("globex")
	a.register("A")
	b.register("B")
	return h, a, b
}

// callbackURL runs a login up to the provider's redirect to the proxy's
// callback, and returns that URL without following it.
func (c *mcpClient) callbackURL(b *browser) string {
	t := c.h.t
	t.Helper()
	form := parseConsent(t, b.get(c.authorizeURL()))
	a := b.post(form.action, form.values("approve"))
	require.Equal(t, http.StatusSeeOther, a.status, "%s", a.body)
	a = b.get(a.header.Get("Location")) // the provider's automatic login
	require.Equal(t, http.StatusFound, a.status, "%s", a.body)
	loc := a.header.Get("Location")
	require.True(t, strings.HasPrefix(loc, c.issuer+oauthproxy.CallbackPath), loc)
	return loc
}

// isPage checks that a is an HTML page with the status, never a redirect.
func isPage(t *testing.T, a *answer, status int) {
	t.Helper()
	assert.Equal(t, status, a.status, "%s", a.body)
	assert.Empty(t, a.header.Get("Location"), "never a redirect")
	assert.Equal(t, "text/html; charset=utf-8", a.header.Get("Content-Type"))
	assert.Contains(t, a.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
}

func oauthErr(t *testing.T, a *answer, status int, code string) {
	t.Helper()
	assert.Equal(t, status, a.status, "%s", a.body)
	assert.Equal(t, code, a.json(t)["error"], "%s", a.body)
	assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
}

func TestCodeWorksOnce(t *testing.T) {
	_, a, _ := ready(t, byPath)
	q := a.login(a.h.browser("acme"))
	require.Equal(t, http.StatusOK, a.redeem(q.Get("code")).status)
	oauthErr(t, a.redeem(q.Get("code")), http.StatusBadRequest, "invalid_grant")
}

func TestWrongVerifierBurnsTheCode(t *testing.T) {
	_, a, _ := ready(t, byPath)
	q := a.login(a.h.browser("acme"))
	right := a.verifier
	for _, wrong := range []string{"", "short", strings.Repeat("a", 43), strings.Repeat("a", 129)} {
		a.verifier = wrong
		oauthErr(t, a.redeem(q.Get("code")), http.StatusBadRequest, "invalid_grant")
	}
	a.verifier = right
	oauthErr(t, a.redeem(q.Get("code")), http.StatusBadRequest, "invalid_grant")
}

func TestCodeBoundToClientAndRedirect(t *testing.T) {
	_, a, _ := ready(t, byPath)
	other := a.h.discover("acme")
	other.register("other")

	q := a.login(a.h.browser("acme"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {a.redirect},
		"client_id": {other.id}, "code_verifier": {a.verifier}}
	oauthErr(t, a.postForm(a.endpoint("token_endpoint"), form), http.StatusBadRequest, "invalid_grant")

	q = a.login(a.h.browser("acme"))
	form.Set("code", q.Get("code"))
	form.Set("client_id", a.id)
	form.Set("code_verifier", a.verifier)
	form.Set("redirect_uri", "http://127.0.0.1:53682/other")
	oauthErr(t, a.postForm(a.endpoint("token_endpoint"), form), http.StatusBadRequest, "invalid_grant")
}

// TestNothingCrossesTenants presents what tenant acme issued (a code, a
// transaction, a refresh token) to tenant globex, in every mode.
func TestNothingCrossesTenants(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			h, a, g := ready(t, m)
			q := a.login(h.browser("acme"))

			// acme's code at globex's token endpoint, as globex's client
			// and as acme's.
			for _, id := range []string{g.id, a.id} {
				oauthErr(t, g.postForm(g.endpoint("token_endpoint"), url.Values{
					"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {a.redirect},
					"client_id": {id}, "code_verifier": {a.verifier},
				}), http.StatusBadRequest, "invalid_grant")
			}
			// It still works at acme: globex's attempts never reached it.
			ans := a.redeem(q.Get("code"))
			require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
			rt := ans.json(t)["refresh_token"].(string)

			// acme's refresh token at globex.
			oauthErr(t, g.postForm(g.endpoint("token_endpoint"), url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {a.id},
			}), http.StatusBadRequest, "invalid_grant")
			assert.Equal(t, http.StatusOK, a.refresh(rt).status)

			// acme's transaction at globex's callback.
			b := h.browser("acme")
			cb, err := url.Parse(a.callbackURL(b))
			require.NoError(t, err)
			gb := h.browser("globex")
			isPage(t, gb.get(g.issuer+oauthproxy.CallbackPath+"?"+cb.RawQuery), http.StatusBadRequest)

			// acme's client is unknown at globex.
			isPage(t, gb.get(strings.Replace(a.authorizeURL(), a.issuer, g.issuer, 1)), http.StatusBadRequest)
		})
	}
}

func TestRefreshTokenOfAnotherClient(t *testing.T) {
	_, a, _ := ready(t, byPath)
	other := a.h.discover("acme")
	other.register("other")
	q := a.login(a.h.browser("acme"))
	ans := a.redeem(q.Get("code"))
	require.Equal(t, http.StatusOK, ans.status)
	rt := ans.json(t)["refresh_token"].(string)

	oauthErr(t, other.refresh(rt), http.StatusBadRequest, "invalid_grant")
	oauthErr(t, other.revoke(rt), http.StatusBadRequest, "unauthorized_client")
	assert.False(t, a.h.idps["acme"].Revoked(rt))
	assert.Equal(t, http.StatusOK, a.refresh(rt).status, "its own client still refreshes it")
}

func TestRedirectURIChecks(t *testing.T) {
	_, a, _ := ready(t, byPath)
	b := a.h.browser("acme")
	for _, uri := range []string{
		"http://127.0.0.1:53682/other",     // another path
		"https://127.0.0.1:53682/callback", // another scheme
		"http://localhost:53682/callback",  // another host
		"http://127.0.0.1:53682/callback?x=1",
		"https://evil.example/callback",
	} {
		isPage(t, b.get(a.authorizeURL("redirect_uri", uri)), http.StatusBadRequest)
	}
	// RFC 8252 section 7.3: any port on a registered loopback URI.
	page := b.get(a.authorizeURL("redirect_uri", "http://127.0.0.1:1234/callback"))
	form := parseConsent(t, page)
	a.redirect = "http://127.0.0.1:1234/callback"
	q := a.approve(b, form)
	require.NotEmpty(t, q.Get("code"))
	assert.Equal(t, http.StatusOK, a.redeem(q.Get("code")).status)

	// One registered URI may be left out.
	page = b.get(a.authorizeURL("redirect_uri", ""))
	assert.Equal(t, http.StatusOK, page.status, "%s", page.body)
}

func TestRepeatedParameters(t *testing.T) {
	_, a, _ := ready(t, byPath)
	b := a.h.browser("acme")
	for _, p := range []string{"client_id", "redirect_uri", "state", "code_challenge", "response_type"} {
		u := a.authorizeURL()
		parsed, err := url.Parse(u)
		require.NoError(t, err)
		isPage(t, b.get(u+"&"+p+"="+url.QueryEscape(parsed.Query().Get(p))), http.StatusBadRequest)
	}
	isPage(t, b.get(a.authorizeURL()+"&%zz"), http.StatusBadRequest)

	q := a.login(b)
	body := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code"), q.Get("code")},
		"client_id": {a.id}, "code_verifier": {a.verifier}, "redirect_uri": {a.redirect}}
	oauthErr(t, a.postForm(a.endpoint("token_endpoint"), body), http.StatusBadRequest, "invalid_request")

	// The consent form.
	form := parseConsent(t, b.get(a.authorizeURL())).values("approve")
	form.Add("decision", "deny")
	isPage(t, b.post(a.endpoint("authorization_endpoint"), form), http.StatusBadRequest)
}

func TestCSRF(t *testing.T) {
	_, a, _ := ready(t, byPath)
	victim, attacker := a.h.browser("acme"), a.h.browser("acme")
	form := parseConsent(t, victim.get(a.authorizeURL()))
	theirs := parseConsent(t, attacker.get(a.authorizeURL()))
	idp := a.h.idps["acme"]
	before := idp.AuthorizeRequests()

	for name, tc := range map[string]struct {
		b    *browser
		form url.Values
	}{
		"missing token":             {victim, url.Values{"request": {form.request}, "decision": {"approve"}}},
		"token of another cookie":   {victim, url.Values{"request": {form.request}, "csrf": {theirs.csrf}, "decision": {"approve"}}},
		"token for another request": {victim, url.Values{"request": {theirs.request}, "csrf": {form.csrf}, "decision": {"approve"}}},
		"no cookie":                 {&browser{h: a.h, hc: a.h.client("acme")}, form.values("approve")},
	} {
		t.Run(name, func(t *testing.T) {
			isPage(t, tc.b.post(form.action, tc.form), http.StatusForbidden)
		})
	}
	assert.Equal(t, before, idp.AuthorizeRequests(), "nothing reached the provider")
	assert.Contains(t, a.h.logs.String(), "missing or wrong CSRF token")

	// The callback must come from the browser that consented.
	cb := a.callbackURL(victim)
	isPage(t, attacker.get(cb), http.StatusBadRequest)
	// ... and the attacker's attempt leaves the transaction to the victim.
	ans := victim.get(cb)
	require.Equal(t, http.StatusFound, ans.status, "%s", ans.body)
	assert.NotEmpty(t, ans.location(t).Query().Get("code"))
}

func TestTransactionReplayed(t *testing.T) {
	_, a, _ := ready(t, byPath)
	b := a.h.browser("acme")
	cb := a.callbackURL(b)
	first := b.get(cb)
	require.Equal(t, http.StatusFound, first.status, "%s", first.body)
	q := first.location(t).Query()
	require.NotEmpty(t, q.Get("code"))
	isPage(t, b.get(cb), http.StatusBadRequest)
	assert.Equal(t, http.StatusOK, a.redeem(q.Get("code")).status)
}

func TestConsentDenied(t *testing.T) {
	_, a, _ := ready(t, byPath)
	b := a.h.browser("acme")
	idp := a.h.idps["acme"]
	form := parseConsent(t, b.get(a.authorizeURL()))
	ans := b.post(form.action, form.values("deny"))
	require.Equal(t, http.StatusSeeOther, ans.status)
	q := ans.location(t).Query()
	assert.True(t, strings.HasPrefix(ans.header.Get("Location"), a.redirect+"?"))
	assert.Equal(t, "access_denied", q.Get("error"))
	assert.Equal(t, a.state, q.Get("state"))
	assert.Equal(t, a.issuer, q.Get("iss"))
	assert.Empty(t, q.Get("code"))
	assert.Zero(t, idp.AuthorizeRequests(), "nothing reached the provider")

	// The provider's user refusing is passed on the same way.
	idp.SetDenyLogin(true)
	q = a.login(b)
	assert.Equal(t, "access_denied", q.Get("error"))
	assert.Equal(t, a.state, q.Get("state"))
}

func TestAuthorizeErrorsGoToTheClient(t *testing.T) {
	_, a, _ := ready(t, byPath)
	b := a.h.browser("acme")
	for _, tc := range []struct {
		params []string
		code   string
	}{
		{[]string{"code_challenge", ""}, "invalid_request"},
		{[]string{"code_challenge_method", "plain"}, "invalid_request"},
		{[]string{"code_challenge_method", ""}, "invalid_request"},
		{[]string{"code_challenge", "too-short"}, "invalid_request"},
		{[]string{"response_type", "token"}, "unsupported_response_type"},
		{[]string{"resource", "https://evil.example/mcp"}, "invalid_target"},
		{[]string{"scope", `bad"scope`}, "invalid_scope"},
	} {
		ans := b.get(a.authorizeURL(tc.params...))
		require.Equal(t, http.StatusFound, ans.status, "%v: %s", tc.params, ans.body)
		q := ans.location(t).Query()
		assert.Equal(t, tc.code, q.Get("error"), "%v", tc.params)
		assert.Equal(t, a.state, q.Get("state"))
		assert.Equal(t, a.issuer, q.Get("iss"))
	}
	// Unknown client, missing client: a page.
	isPage(t, b.get(a.authorizeURL("client_id", "mcp-nobody")), http.StatusBadRequest)
	isPage(t, b.get(a.authorizeURL("client_id", "")), http.StatusBadRequest)
	isPage(t, b.get(a.authorizeURL("client_id", "a{b}")), http.StatusBadRequest)
}

func TestTokenEndpointErrors(t *testing.T) {
	_, a, _ := ready(t, byPath)
	te := a.endpoint("token_endpoint")
	oauthErr(t, a.postForm(te, url.Values{"grant_type": {"password"}, "client_id": {a.id}}), http.StatusBadRequest, "unsupported_grant_type")
	oauthErr(t, a.postForm(te, url.Values{"client_id": {a.id}}), http.StatusBadRequest, "invalid_request")
	oauthErr(t, a.postForm(te, url.Values{"grant_type": {"authorization_code"}}), http.StatusBadRequest, "invalid_request")
	oauthErr(t, a.postForm(te, url.Values{"grant_type": {"authorization_code"}, "client_id": {a.id}}), http.StatusBadRequest, "invalid_request")
	oauthErr(t, a.postForm(te, url.Values{"grant_type": {"authorization_code"}, "client_id": {a.id}, "code": {"nope"}}), http.StatusBadRequest, "invalid_grant")
	oauthErr(t, a.postForm(te, url.Values{"grant_type": {"refresh_token"}, "client_id": {a.id}, "refresh_token": {"nope"}}), http.StatusBadRequest, "invalid_grant")

	ans := must(t)(a.hc.Post(te, "application/json", strings.NewReader(`{}`)))
	oauthErr(t, ans, http.StatusBadRequest, "invalid_request")
	ans = must(t)(a.hc.Post(te, "application/x-www-form-urlencoded", strings.NewReader(strings.Repeat("a", 40<<10))))
	oauthErr(t, ans, http.StatusRequestEntityTooLarge, "invalid_request")

	req, err := http.NewRequest(http.MethodPost, te, strings.NewReader("grant_type=authorization_code&code=x"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.id, "")
	ans = must(t)(a.hc.Do(req))
	oauthErr(t, ans, http.StatusUnauthorized, "invalid_client")
	assert.NotEmpty(t, ans.header.Get("WWW-Authenticate"))

	// The revocation endpoint refuses client credentials alike.
	req, err = http.NewRequest(http.MethodPost, a.endpoint("revocation_endpoint"), strings.NewReader("token=x&client_id="+a.id))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.id, "")
	ans = must(t)(a.hc.Do(req))
	oauthErr(t, ans, http.StatusUnauthorized, "invalid_client")
	assert.Equal(t, `Basic realm="oauth"`, ans.header.Get("WWW-Authenticate"))

	ans = must(t)(a.hc.Get(te))
	assert.Equal(t, http.StatusMethodNotAllowed, ans.status)
	assert.Equal(t, "POST, OPTIONS", ans.header.Get("Allow"))
}

// TestUpstreamDownOrSlow: one tenant's provider fails or hangs; its
// clients get errors they understand, the other tenant is served, and
// nothing is lost that a retry needs.
func TestUpstreamDownOrSlow(t *testing.T) {
	h, a, g := ready(t, byPath, func(c *oauthproxy.Config) { c.UpstreamTimeout = 20 * time.Second })
	idpA := h.idps["acme"]
	ans := a.redeem(a.login(h.browser("acme")).Get("code"))
	require.Equal(t, http.StatusOK, ans.status)
	rt := ans.json(t)["refresh_token"].(string)

	// Down: the callback's exchange and a refresh fail softly.
	b := h.browser("acme")
	cb := a.callbackURL(b)
	idpA.SetDown(true)
	loc := b.get(cb).location(t)
	assert.Equal(t, "temporarily_unavailable", loc.Query().Get("error"))
	assert.Equal(t, a.state, loc.Query().Get("state"))
	oauthErr(t, a.refresh(rt), http.StatusServiceUnavailable, "temporarily_unavailable")
	idpA.SetDown(false)
	assert.Equal(t, http.StatusOK, a.refresh(rt).status, "the binding survived the outage")

	// Slow: acme's exchange hangs at its provider while globex logs in
	// and refreshes.
	cb = a.callbackURL(b)
	idpA.SetDelay(time.Hour)
	n := idpA.TokenRequests()
	done := make(chan *answer, 1)
	var wg sync.WaitGroup
	wg.Go(func() { done <- b.get(cb) })
	require.Eventually(t, func() bool { return idpA.TokenRequests() > n }, 10*time.Second, 5*time.Millisecond,
		"acme's exchange is waiting at its provider")

	q := g.login(h.browser("globex"))
	ans = g.redeem(q.Get("code"))
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	assert.Equal(t, http.StatusOK, g.mcp(ans.json(t)["access_token"].(string)).status)
	select {
	case <-done:
		t.Fatal("acme's exchange ended before its provider answered")
	default:
	}
	idpA.Close() // ends the delay: the exchange fails
	wg.Wait()
	loc = (<-done).location(t)
	assert.Equal(t, "temporarily_unavailable", loc.Query().Get("error"))
}

// TestUpstreamTimeout: a provider that never answers is given up on after
// UpstreamTimeout.
func TestUpstreamTimeout(t *testing.T) {
	h, a, _ := ready(t, byPath, func(c *oauthproxy.Config) { c.UpstreamTimeout = 200 * time.Millisecond })
	b := h.browser("acme")
	cb := a.callbackURL(b)
	h.idps["acme"].SetDelay(time.Hour)
	loc := b.get(cb).location(t)
	assert.Equal(t, "temporarily_unavailable", loc.Query().Get("error"))
	assert.Contains(t, h.logs.String(), "code exchange failed")
}

func TestDiscoveryFailure(t *testing.T) {
	h := newHarness(t, byPath, memBackend)
	idp := oidctest.New(t)
	h.addTenant("acme", idp, "")
	a := h.discover("acme")
	a.register("A")
	idp.SetDown(true)
	b := h.browser("acme")
	form := parseConsent(t, b.get(a.authorizeURL()))
	ans := b.post(form.action, form.values("approve"))
	require.Equal(t, http.StatusSeeOther, ans.status)
	assert.Equal(t, "temporarily_unavailable", ans.location(t).Query().Get("error"))
	assert.Contains(t, h.logs.String(), "provider discovery failed")
}

func TestProxyOffForTenantWithoutClient(t *testing.T) {
	h := newHarness(t, byPath, memBackend)
	h.addTenant("plain", oidctest.New(t), "", func(tt *tenant.Tenant) { tt.OIDC.ClientID = "" })
	c := h.client("plain")
	for _, p := range []string{"/oauth/authorize", "/oauth/callback", oauthproxy.MetadataPath} {
		assert.Equal(t, http.StatusNotFound, must(t)(c.Get(h.base("plain")+p)).status, p)
	}
	assert.Equal(t, http.StatusNotFound, must(t)(c.Get(h.public+oauthproxy.MetadataPath+"/plain")).status)
	ans := must(t)(c.Post(h.base("plain")+"/oauth/register", "application/json", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`)))
	assert.Equal(t, http.StatusCreated, ans.status, "registration is served for every tenant")
	// The protected-resource metadata names the provider itself.
	ans = must(t)(c.Get(h.public + "/.well-known/oauth-protected-resource/plain/mcp"))
	require.Equal(t, http.StatusOK, ans.status)
	assert.Equal(t, []any{h.idps["plain"].Issuer()}, ans.json(t)["authorization_servers"])
}

func TestProviderIssuerMismatch(t *testing.T) {
	_, a, _ := ready(t, byPath)
	b := a.h.browser("acme")
	cb := a.callbackURL(b)
	u, err := url.Parse(cb)
	require.NoError(t, err)
	q := u.Query()
	q.Set("iss", "https://evil.example")
	u.RawQuery = q.Encode()
	loc := b.get(u.String()).location(t)
	assert.Equal(t, "server_error", loc.Query().Get("error"))
	assert.Empty(t, loc.Query().Get("code"))
}

func TestRefreshWithoutRotation(t *testing.T) {
	_, a, _ := ready(t, byPath)
	a.h.idps["acme"].SetRefreshRotation(false)
	ans := a.redeem(a.login(a.h.browser("acme")).Get("code"))
	rt := ans.json(t)["refresh_token"].(string)
	for range 2 {
		ans = a.refresh(rt)
		require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
		assert.Equal(t, rt, ans.json(t)["refresh_token"])
	}
}

func TestRefreshNotRegistered(t *testing.T) {
	h, a, _ := ready(t, byPath)
	ans := a.postJSON(a.endpoint("registration_endpoint"), map[string]any{"redirect_uris": []string{a.redirect}})
	require.Equal(t, http.StatusCreated, ans.status)
	a.id = ans.json(t)["client_id"].(string)
	ans = a.redeem(a.login(h.browser("acme")).Get("code"))
	require.Equal(t, http.StatusOK, ans.status)
	assert.NotContains(t, ans.json(t), "refresh_token", "a client without the refresh_token grant gets none")
}

func TestRevokeWithoutProviderEndpoint(t *testing.T) {
	_, a, _ := ready(t, byPath)
	idp := a.h.idps["acme"]
	ans := a.redeem(a.login(a.h.browser("acme")).Get("code"))
	rt := ans.json(t)["refresh_token"].(string)
	idp.SetRevocation(false)
	a.h.proxy.Invalidate("acme")
	require.Equal(t, http.StatusOK, a.revoke(rt).status)
	assert.Zero(t, idp.RevocationRequests())
	oauthErr(t, a.refresh(rt), http.StatusBadRequest, "invalid_grant")
	// Unknown tokens: 200, as RFC 7009 asks.
	assert.Equal(t, http.StatusOK, a.revoke("whatever").status)
	oauthErr(t, a.postForm(a.endpoint("revocation_endpoint"), url.Values{"client_id": {a.id}}), http.StatusBadRequest, "invalid_request")
}

// TestClientSecretThatDoesNotOpen: a tenant whose sealed secret does not
// open (no keyring, or a value sealed for another tenant) cannot start a
// login; the user's client is told, and the operator's log says why.
func TestClientSecretThatDoesNotOpen(t *testing.T) {
	for name, configure := range map[string]func(*oauthproxy.Config){
		"no keyring":          func(c *oauthproxy.Config) { c.Keyring = nil },
		"sealed for a tenant": func(*oauthproxy.Config) {},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, byPath, memBackend, configure)
			idp := oidctest.New(t)
			h.addTenant("acme", idp, "s3cret-of-acme", func(tt *tenant.Tenant) {
				// Moved from another tenant's record: it names acme-corp.
				sealed, err := h.ring.Seal("s3cret-of-acme", tenant.ClientSecretContext("acme-corp"))
				require.NoError(t, err)
				if name == "sealed for a tenant" {
					tt.OIDC.ClientSecret = sealed
				}
			})
			c := h.discover("acme")
			c.register("A")
			b := h.browser("acme")
			form := parseConsent(t, b.get(c.authorizeURL()))
			ans := b.post(form.action, form.values("approve"))
			require.Equal(t, http.StatusSeeOther, ans.status)
			assert.Equal(t, "temporarily_unavailable", ans.location(t).Query().Get("error"))
			assert.Zero(t, idp.AuthorizeRequests())
			assert.Contains(t, h.logs.String(), "client secret cannot be opened")
			assert.NotContains(t, h.logs.String(), "s3cret-of-acme")
		})
	}
}

// TestAuthorizeErrorsNeverRedirectUnseen: anyone may register a client
// whose redirect URI is their own site, so an error found before the
// user saw any page of the server goes there only through a link the
// user follows (RFC 9700 section 4.11.2), never through an automatic
// redirect from the tenant's address. A loopback redirect URI (a native
// application's) still gets the error at once, and so does any client
// once the user has acted on the consent page.
func TestAuthorizeErrorsNeverRedirectUnseen(t *testing.T) {
	_, a, _ := ready(t, byPath)
	const site = "https://evil.example/landing"
	ans := a.postJSON(a.endpoint("registration_endpoint"), map[string]any{"redirect_uris": []string{site}})
	require.Equal(t, http.StatusCreated, ans.status, "%s", ans.body)
	a.id, a.redirect = ans.json(t)["client_id"].(string), site
	b := a.h.browser("acme")
	for _, params := range [][]string{
		{"response_type", "token"},
		{"code_challenge_method", "plain"},
		{"resource", "https://evil.example/mcp"},
	} {
		ans := b.get(a.authorizeURL(params...))
		isPage(t, ans, http.StatusBadRequest)
		assert.Contains(t, string(ans.body), `<a href="https://evil.example/landing?error=`, "%v", params)
		assert.Contains(t, string(ans.body), "Return to evil.example", "%v", params)
		assert.Contains(t, string(ans.body), "state="+a.state, "%v: the link carries the client's state", params)
	}

	// A good request is shown the consent page; a denial there goes
	// back to the client at once: the user acted.
	form := parseConsent(t, b.get(a.authorizeURL()))
	ans = b.post(form.action, form.values("deny"))
	require.Equal(t, http.StatusSeeOther, ans.status, "%s", ans.body)
	loc := ans.location(t)
	assert.Equal(t, "evil.example", loc.Host)
	assert.Equal(t, "access_denied", loc.Query().Get("error"))
}
