package oauthproxy_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// TestRevokeOnlyTheClientsOwnTokens: a token reaches the provider's
// revocation endpoint, under the tenant's upstream credentials, only when
// the client asking got it from this tenant's authorization server (RFC
// 7009 section 2.1). Another client's access token, a client_id nobody
// registered, a token of another tenant on the same provider and upstream
// client, and made-up tokens are never sent there.
func TestRevokeOnlyTheClientsOwnTokens(t *testing.T) {
	h := newHarness(t, byPath, memBackend)
	idp := oidctest.New(t)
	h.addTenant("acme", idp, "shared-upstream-secret")
	// globex reaches the same provider as the same upstream client.
	h.addTenant("globex", idp, "shared-upstream-secret", func(tt *tenant.Tenant) {
		tt.OIDC.ClientID = "proxy-acme"
		sealed, err := h.ring.Seal("shared-upstream-secret", tenant.ClientSecretContext("globex"))
		require.NoError(t, err)
		tt.OIDC.ClientSecret = sealed
	})
	a, other, g := h.discover("acme"), h.discover("acme"), h.discover("globex")
	a.register("A")
	other.register("other")
	g.register("G")

	ans := a.redeem(a.login(h.browser("acme")).Get("code"))
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	at := ans.json(t)["access_token"].(string)
	rt := ans.json(t)["refresh_token"].(string)
	before := idp.RevocationRequests()

	// Another client of acme.
	if ans = other.revoke(at); assert.Equal(t, http.StatusBadRequest, ans.status, "another client's access token: %s", ans.body) {
		oauthErr(t, ans, http.StatusBadRequest, "unauthorized_client")
	}
	// A client_id nobody registered: the token is not one of its own.
	for _, token := range []string{at, rt} {
		ans = a.postForm(a.endpoint("revocation_endpoint"), url.Values{"token": {token}, "client_id": {"mcp-nobody"}})
		assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, ans.status, "%s", ans.body)
	}
	// acme's tokens at globex, by globex's client and by acme's client ID.
	for _, id := range []string{g.id, a.id} {
		for _, token := range []string{at, rt} {
			ans = g.postForm(g.endpoint("revocation_endpoint"), url.Values{"token": {token}, "client_id": {id}})
			assert.Equal(t, http.StatusOK, ans.status, "an unknown token is answered 200 (RFC 7009 section 2.2): %s", ans.body)
		}
	}
	// Made-up tokens.
	for i := range 20 {
		assert.Equal(t, http.StatusOK, other.revoke("made-up-"+strconv.Itoa(i)).status)
	}
	assert.Equal(t, before, idp.RevocationRequests(), "no request of another client or tenant reached the provider")
	assert.False(t, idp.Revoked(at))
	assert.False(t, idp.Revoked(rt))
	assert.Equal(t, http.StatusOK, a.refresh(rt).status, "the refresh token still works for its client")

	// The client itself revokes its access token at the provider.
	require.Equal(t, http.StatusOK, a.revoke(at).status)
	assert.True(t, idp.Revoked(at))
	assert.Equal(t, before+1, idp.RevocationRequests())
}

// TestRefreshTokenReuseRevokesTheFamily: the provider rotates refresh
// tokens, and an old one presented again means two parties hold it (RFC
// 9700 section 4.14.2): the one the rotation produced stops working too,
// whoever holds it. Behind the proxy the provider never sees the reuse,
// since the old token's binding is gone, so the proxy detects it.
func TestRefreshTokenReuseRevokesTheFamily(t *testing.T) {
	_, a, _ := ready(t, byPath)
	ans := a.redeem(a.login(a.h.browser("acme")).Get("code"))
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	rt1 := ans.json(t)["refresh_token"].(string)

	// The thief refreshes first; the token rotates.
	ans = a.refresh(rt1)
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	rt2 := ans.json(t)["refresh_token"].(string)
	require.NotEqual(t, rt1, rt2)

	// The client presents the token it holds, now used.
	oauthErr(t, a.refresh(rt1), http.StatusBadRequest, "invalid_grant")
	// The thief's token is dead too.
	oauthErr(t, a.refresh(rt2), http.StatusBadRequest, "invalid_grant")
	assert.Contains(t, a.h.logs.String(), "refresh token used again")

	// Another login of the same client starts a family of its own.
	ans = a.redeem(a.login(a.h.browser("acme")).Get("code"))
	rt := ans.json(t)["refresh_token"].(string)
	for range 3 {
		ans = a.refresh(rt)
		require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
		rt = ans.json(t)["refresh_token"].(string)
	}
}

// TestRevokingAUsedRefreshTokenRevokesTheFamily: whoever holds a refresh
// token already rotated cannot erase the record of its use by revoking
// it; the revocation revokes the tokens rotated from it instead.
func TestRevokingAUsedRefreshTokenRevokesTheFamily(t *testing.T) {
	_, a, _ := ready(t, byPath)
	ans := a.redeem(a.login(a.h.browser("acme")).Get("code"))
	rt1 := ans.json(t)["refresh_token"].(string)
	ans = a.refresh(rt1)
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	rt2 := ans.json(t)["refresh_token"].(string)

	require.Equal(t, http.StatusOK, a.revoke(rt1).status)
	oauthErr(t, a.refresh(rt1), http.StatusBadRequest, "invalid_grant")
	oauthErr(t, a.refresh(rt2), http.StatusBadRequest, "invalid_grant")
	assert.True(t, a.h.idps["acme"].Revoked(rt2), "the live token of the family is revoked at the provider when next presented")
}

// TestUsedRefreshTokensRemembered: a family remembers its last eight used
// tokens, not every one for RefreshTTL, so a client that refreshes all
// day leaves a bounded trail. One of the last eight presented again is a
// reuse and revokes the family; an older one is only unknown.
func TestUsedRefreshTokensRemembered(t *testing.T) {
	_, a, _ := ready(t, byPath)
	ans := a.redeem(a.login(a.h.browser("acme")).Get("code"))
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	tokens := []string{ans.json(t)["refresh_token"].(string)}
	refresh := func() {
		t.Helper()
		ans := a.refresh(tokens[len(tokens)-1])
		require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
		tokens = append(tokens, ans.json(t)["refresh_token"].(string))
	}
	for range 11 {
		refresh()
	}
	// tokens[0..10] are used; the last eight (3..10) are remembered.
	oauthErr(t, a.refresh(tokens[0]), http.StatusBadRequest, "invalid_grant")
	assert.NotContains(t, a.h.logs.String(), "refresh token used again", "the oldest is forgotten, not a reuse")
	refresh() // the family lives on: tokens[11] is used now, 4..11 remembered
	oauthErr(t, a.refresh(tokens[3]), http.StatusBadRequest, "invalid_grant")
	assert.NotContains(t, a.h.logs.String(), "refresh token used again")
	oauthErr(t, a.refresh(tokens[4]), http.StatusBadRequest, "invalid_grant")
	assert.Contains(t, a.h.logs.String(), "refresh token used again", "eight back is a reuse")
	oauthErr(t, a.refresh(tokens[len(tokens)-1]), http.StatusBadRequest, "invalid_grant")
}

// TestMadeUpRevocationsLogQuietly: anyone may revoke made-up tokens; each
// is answered 200 and logged at debug level only, so a flood of them is
// not a flood of the log.
func TestMadeUpRevocationsLogQuietly(t *testing.T) {
	_, a, _ := ready(t, byPath)
	for i := range 20 {
		require.Equal(t, http.StatusOK, a.revoke(fmt.Sprintf("made-up-%d", i)).status)
	}
	for _, line := range strings.Split(a.h.logs.String(), "\n") {
		if strings.Contains(line, "unknown token") {
			assert.Contains(t, line, "level=DEBUG", line)
		}
	}
	assert.Contains(t, a.h.logs.String(), "unknown token", "the revocations are logged, at debug level")
}
