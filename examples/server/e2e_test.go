package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// TestEndToEnd runs the server's whole HTTP contract in each
// identification mode, on miniredis and on the real Redis when one is
// configured: two tenants with identity providers of their own, created
// through the admin API, then MCP, OAuth, limits, suspension and deletion.
func TestEndToEnd(t *testing.T) {
	for _, b := range backends(t) {
		for _, mode := range []tenancy.Identification{tenancy.BySubdomain, tenancy.ByPath, tenancy.ByHeader} {
			t.Run(b.name+"/"+string(mode), func(t *testing.T) {
				rdb, mini := b.open(t)
				h := start(t, rdb, mini, config{
					AuthRequired: true,
					Tenancy: tenancy.Config{
						MultiTenant:    true,
						Identification: mode,
						AdminAPIKey:    adminKey,
						// The tenants' test providers listen on 127.0.0.1.
						OIDC: oidcx.Config{InsecureAllowLoopback: true},
					},
				})
				e2e(t, h)
			})
		}
	}
}

// e2e is the scenario of TestEndToEnd against one running server.
func e2e(t *testing.T, h *harness) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	// Each tenant's OAuth authorization server is on: its upstream
	// client (public) is registered at its provider.
	for id, idp := range map[string]*oidctest.Server{"acme": idpA, "globex": idpB} {
		idp.RegisterClient(oidctest.Client{ID: "proxy-" + id, Audience: "aud-" + id, RedirectURIs: []string{h.base(id) + "/oauth/callback"}})
	}
	for _, tn := range []map[string]any{
		{"id": "acme", "name": "ACME", "oidc": tenantOIDC(idpA, "aud-acme"),
			"limits": map[string]int{"maxClients": 2, "maxSessions": 1, "rateLimit": 1000}},
		{"id": "globex", "name": "Globex", "oidc": tenantOIDC(idpB, "aud-globex"),
			"limits": map[string]int{"maxClients": 10, "maxSessions": 10, "rateLimit": 1000}},
		{"id": "initech", "name": "Initech", "limits": map[string]int{"rateLimit": 3}},
	} {
		a := h.admin(http.MethodPost, "", tn)
		require.Equal(t, http.StatusCreated, a.status, "create %v: %s", tn["id"], a.body)
	}
	tokenA := idpA.Token(idpA.Claims("aud-acme", "alice"))
	tokenB := idpB.Token(idpB.Claims("aud-globex", "bob"))

	assert.Equal(t, http.StatusOK, h.do(h.request(http.MethodGet, "", h.public+"/healthz", nil)).status)

	// The SDK's client on tenant A with A's token: whoami names A and the
	// token's subject.
	cs, err := h.connect(ctx, "acme", tokenA)
	require.NoError(t, err)
	tools, err := cs.ListTools(ctx, nil)
	require.NoError(t, err)
	require.Len(t, tools.Tools, 1)
	assert.Equal(t, "whoami", tools.Tools[0].Name)
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	out, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	assert.JSONEq(t, `{"tenant":"acme","subject":"alice"}`, string(out))

	t.Run("token of another tenant", func(t *testing.T) {
		a := h.mcpPost("globex", tokenA, "", initialize)
		assert.Equal(t, http.StatusUnauthorized, a.status)
		assert.Equal(t, `Bearer resource_metadata="`+h.metadataURL("globex")+`", error="invalid_token"`, a.header.Get("WWW-Authenticate"))
		a = h.mcpPost("globex", "", "", initialize)
		assert.Equal(t, http.StatusUnauthorized, a.status)
		assert.Equal(t, `Bearer resource_metadata="`+h.metadataURL("globex")+`"`, a.header.Get("WWW-Authenticate"))
	})

	t.Run("metadata", func(t *testing.T) {
		// The authorization server a client is sent to is the tenant's
		// own, under its base.
		for _, id := range []string{"acme", "globex"} {
			a := h.do(h.request(http.MethodGet, id, h.metadataURL(id), nil))
			require.Equal(t, http.StatusOK, a.status, "%s: %s", id, a.body)
			m := a.json(t)
			assert.Equal(t, h.mcpURL(id), m["resource"])
			assert.Equal(t, []any{h.base(id)}, m["authorization_servers"])
		}
	})

	t.Run("session of another tenant", func(t *testing.T) {
		// B's valid token passes B's bearer check; A's session ID must
		// still be unknown there.
		a := h.mcpPost("globex", tokenB, cs.ID(), `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		assert.Equal(t, http.StatusNotFound, a.status, "%s", a.body)
		a = h.do(h.request(http.MethodDelete, "globex", h.mcpURL("globex"), nil,
			"Authorization", "Bearer "+tokenB, sessionHeader, cs.ID()))
		assert.Equal(t, http.StatusNotFound, a.status)
		// The session still works on A.
		_, err := cs.ListTools(ctx, nil)
		assert.NoError(t, err)
	})

	t.Run("session of another caller", func(t *testing.T) {
		// carol is acme's too, with a valid token: alice's session is
		// unknown to her, exactly as another tenant's is.
		carol := idpA.Token(idpA.Claims("aud-acme", "carol"))
		a := h.mcpPost("acme", carol, cs.ID(), `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		assert.Equal(t, http.StatusNotFound, a.status, "%s", a.body)
		b := h.mcpPost("acme", tokenA, "unknown-session", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		assert.Equal(t, string(b.body), string(a.body))
		_, err := cs.ListTools(ctx, nil)
		assert.NoError(t, err, "alice's session still works")
	})

	t.Run("maxSessions", func(t *testing.T) {
		a := h.mcpPost("acme", tokenA, "", initialize)
		assert.Equal(t, http.StatusForbidden, a.status)
		m := a.json(t)
		assert.Equal(t, "2.0", m["jsonrpc"])
		assert.EqualValues(t, 1, m["id"])
		assert.Contains(t, m, "error")
		// Closing the client sends DELETE /mcp, which frees the place.
		require.NoError(t, cs.Close())
		cs2, err := h.connect(ctx, "acme", tokenA)
		require.NoError(t, err)
		assert.NotEqual(t, cs.ID(), cs2.ID())
		a = h.mcpPost("acme", tokenA, cs.ID(), `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		assert.Equal(t, http.StatusNotFound, a.status, "a deleted session is gone")
		require.NoError(t, cs2.Close())
	})

	redirect := "http://127.0.0.1:3000/callback"
	var clientID string
	t.Run("registration", func(t *testing.T) {
		a := h.do(h.request(http.MethodPost, "acme", h.base("acme")+"/oauth/register",
			map[string]any{"client_name": "app", "redirect_uris": []string{redirect}}))
		require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
		m := a.json(t)
		clientID, _ = m["client_id"].(string)
		assert.Len(t, clientID, len("mcp-")+26)
		assert.Equal(t, []any{redirect}, m["redirect_uris"])
		assert.NotZero(t, m["client_id_issued_at"])

		for _, tc := range []struct {
			body any
			code string
		}{
			{map[string]any{"client_name": "x"}, "invalid_redirect_uri"},
			{map[string]any{"redirect_uris": []string{"http://example.com/cb"}}, "invalid_redirect_uri"},
			{map[string]any{"redirect_uris": []string{"https://example.com/cb#frag"}}, "invalid_redirect_uri"},
			{map[string]any{"redirect_uris": []string{"/relative"}}, "invalid_redirect_uri"},
			{map[string]any{"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"},
			{`{"redirect_uris":`, "invalid_client_metadata"},
		} {
			a := h.do(h.request(http.MethodPost, "acme", h.base("acme")+"/oauth/register", tc.body))
			assert.Equal(t, http.StatusBadRequest, a.status, "%v", tc.body)
			assert.Equal(t, tc.code, a.json(t)["error"], "%v", tc.body)
		}

		// maxClients is 2: the second fits, the third is refused.
		a = h.do(h.request(http.MethodPost, "acme", h.base("acme")+"/oauth/register",
			map[string]any{"redirect_uris": []string{"https://app.example/cb", redirect}}))
		require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
		a = h.do(h.request(http.MethodPost, "acme", h.base("acme")+"/oauth/register",
			map[string]any{"redirect_uris": []string{redirect}}))
		assert.Equal(t, http.StatusForbidden, a.status)
		assert.JSONEq(t, `{"error":"access_denied"}`, string(a.body))

		// B has a client too, so that its keys can be told apart later.
		a = h.do(h.request(http.MethodPost, "globex", h.base("globex")+"/oauth/register",
			map[string]any{"redirect_uris": []string{redirect}}))
		require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	})

	t.Run("authorize", func(t *testing.T) {
		// The authorization endpoint checks the client and its redirect
		// URI against the tenant's own clients, then asks the user to
		// consent (the whole login is TestOAuthFlow's); every refusal is
		// a page, never a redirect.
		challenge := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
		query := "response_type=code&client_id=" + clientID + "&redirect_uri=" + url.QueryEscape(redirect) + "&state=xyz&code_challenge=" + challenge + "&code_challenge_method=S256"
		refused := func(a answer, what string) {
			t.Helper()
			assert.Equal(t, http.StatusBadRequest, a.status, what)
			assert.Empty(t, a.header.Get("Location"), what)
			assert.Equal(t, "text/html; charset=utf-8", a.header.Get("Content-Type"), what)
		}
		refused(h.do(h.request(http.MethodGet, "globex", h.base("globex")+"/oauth/authorize?"+query, nil)), "a client of another tenant")

		a := h.do(h.request(http.MethodGet, "acme", h.base("acme")+"/oauth/authorize?"+query, nil))
		assert.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.Contains(t, string(a.body), "ACME", "the consent page names the tenant")
		assert.Contains(t, a.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")

		// The only registered URI is used when none is given.
		a = h.do(h.request(http.MethodGet, "acme", h.base("acme")+"/oauth/authorize?response_type=code&client_id="+clientID+
			"&state=xyz&code_challenge="+challenge+"&code_challenge_method=S256", nil))
		assert.Equal(t, http.StatusOK, a.status, "%s", a.body)

		// An unregistered redirect_uri is refused, never redirected to.
		q3 := "response_type=code&client_id=" + clientID + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb") + "&code_challenge=" + challenge + "&code_challenge_method=S256"
		refused(h.do(h.request(http.MethodGet, "acme", h.base("acme")+"/oauth/authorize?"+q3, nil)), "unregistered redirect_uri")

		// A repeated parameter is refused whichever copy is the checked
		// one: nothing goes on with a value that was not checked.
		for _, q4 := range []string{
			query + "&redirect_uri=" + url.QueryEscape("https://evil.example/steal"),
			"redirect_uri=" + url.QueryEscape("https://evil.example/steal") + "&" + query,
			query + "&state=other",
			query + "&client_id=" + clientID,
		} {
			refused(h.do(h.request(http.MethodGet, "acme", h.base("acme")+"/oauth/authorize?"+q4, nil)), q4)
		}
		// A query that does not parse is refused too.
		refused(h.do(h.request(http.MethodGet, "acme", h.base("acme")+"/oauth/authorize?"+query+"&%zz=1", nil)), "malformed query")
	})

	t.Run("rateLimit", func(t *testing.T) {
		var a answer
		for range 4 {
			a = h.do(h.request(http.MethodGet, "initech", h.metadataURL("initech"), nil))
		}
		assert.Equal(t, http.StatusTooManyRequests, a.status)
		assert.JSONEq(t, `{"error":"Rate limit exceeded"}`, string(a.body))
		assert.Equal(t, "3", a.header.Get("RateLimit-Limit"))
		assert.Equal(t, "0", a.header.Get("RateLimit-Remaining"))
		for _, name := range []string{"Retry-After", "RateLimit-Reset"} {
			n, err := strconv.Atoi(a.header.Get(name))
			assert.NoError(t, err, name)
			assert.Positive(t, n, name)
		}
	})

	t.Run("suspend and delete", func(t *testing.T) {
		a := h.admin(http.MethodPatch, "/acme", map[string]any{"status": "suspended"})
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		for _, u := range []string{h.metadataURL("acme"), h.mcpURL("acme")} {
			a = h.do(h.request(http.MethodGet, "acme", u, nil, "Authorization", "Bearer "+tokenA))
			assert.Equal(t, http.StatusNotFound, a.status, u)
			assert.JSONEq(t, `{"error":"Tenant not found or inactive"}`, string(a.body))
		}
		_, err := h.connect(ctx, "acme", tokenA)
		assert.Error(t, err, "a suspended tenant takes no MCP session")
		csB, err := h.connect(ctx, "globex", tokenB)
		require.NoError(t, err, "B works while A is suspended")
		res, err := csB.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
		require.NoError(t, err)
		out, _ := json.Marshal(res.StructuredContent)
		assert.JSONEq(t, `{"tenant":"globex","subject":"bob"}`, string(out))

		require.NotEmpty(t, h.keys("tenant:{acme}:*"))
		a = h.admin(http.MethodDelete, "/acme", nil)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		assert.Positive(t, a.json(t)["deletedKeys"])
		assert.Empty(t, h.keys("tenant:{acme}:*"))
		assert.Empty(t, h.keys("tenant:metadata:{acme}"))
		assert.NotEmpty(t, h.keys("tenant:{globex}:*"))
		assert.NotEmpty(t, h.keys("tenant:metadata:{globex}"))
		// B's session survives A's deletion.
		_, err = csB.ListTools(ctx, nil)
		assert.NoError(t, err)
		require.NoError(t, csB.Close())
	})
}

// tenantOIDC returns the oidc member of a tenant trusting idp, whose
// OAuth authorization server reaches idp as the client proxy-<id>
// (audience aud-<id>).
func tenantOIDC(idp *oidctest.Server, audience string) map[string]string {
	id := strings.TrimPrefix(audience, "aud-")
	return map[string]string{"issuer": idp.Issuer(), "audience": audience, "authorizationUrl": idp.AuthorizeURL(), "clientId": "proxy-" + id}
}
