package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// clientRedirect is the redirect URI of the MCP clients of these tests: a
// native client's loopback listener, which the tests never run (the
// browser stops at the redirect to it and hands its query to the client).
const clientRedirect = "http://127.0.0.1:53682/callback"

// testKeyring is the TENANT_ENCRYPTION_KEY of these tests.
func testKeyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	ring, err := keyring.Parse("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	require.NoError(t, err)
	return ring
}

// TestOAuthFlow runs the login of a real MCP client (the official Go
// SDK's client with its OAuth handler) through each tenant's authorization
// server, starting from a bare 401 on /mcp and following only what the
// server publishes: protected-resource metadata, authorization server
// metadata, registration, authorize, consent, the tenant's provider's
// login, callback, token, /mcp whoami, then refresh and revoke. Two
// tenants on two providers (one confidential upstream client found by
// discovery, one public with configured endpoints), in each
// identification mode, on miniredis and on the real Redis when one is
// configured. Subdomain mode runs over https: MCP clients accept http only
// on localhost and loopback addresses, which acme.localhost is not.
func TestOAuthFlow(t *testing.T) {
	for _, b := range backends(t) {
		for _, mode := range []tenancy.Identification{tenancy.BySubdomain, tenancy.ByPath, tenancy.ByHeader} {
			t.Run(b.name+"/"+string(mode), func(t *testing.T) {
				rdb, mini := b.open(t)
				cfg := config{AuthRequired: true, Tenancy: tenancy.Config{
					MultiTenant: true, Identification: mode, AdminAPIKey: adminKey, EncryptionKeys: testKeyring(t),
					// The tenants' test providers listen on 127.0.0.1.
					OIDC: oidcx.Config{InsecureAllowLoopback: true},
				}}
				run := start
				if mode == tenancy.BySubdomain {
					run = startTLS
				}
				oauthFlow(t, run(t, rdb, mini, cfg))
			})
		}
	}
}

func oauthFlow(t *testing.T, h *harness) {
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	idpA.SetSubject("alice")
	idpB.SetSubject("bob")
	const secretA = "acme-upstream-secret-5e1f"
	idpA.RegisterClient(oidctest.Client{ID: "proxy-acme", Secret: secretA, Audience: "aud-acme",
		RedirectURIs: []string{h.base("acme") + "/oauth/callback"}})
	idpB.RegisterClient(oidctest.Client{ID: "proxy-globex", Audience: "aud-globex",
		RedirectURIs: []string{h.base("globex") + "/oauth/callback"}})
	a := h.admin(http.MethodPost, "", map[string]any{"id": "acme", "name": "ACME Corporation", "oidc": map[string]any{
		"issuer": idpA.Issuer(), "audience": "aud-acme", "clientId": "proxy-acme", "clientSecret": secretA,
		"scopes": []string{"openid", "profile"},
	}})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	assert.Contains(t, string(a.body), `"clientSecretSet":true`)
	assert.NotContains(t, string(a.body), secretA)
	a = h.admin(http.MethodPost, "", map[string]any{"id": "globex", "name": "Globex", "oidc": map[string]any{
		"issuer": idpB.Issuer(), "audience": "aud-globex", "clientId": "proxy-globex",
		"authorizationUrl": idpB.AuthorizeURL(), "tokenUrl": idpB.TokenURL(), "revocationUrl": idpB.RevocationURL(),
	}})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	// A tenant whose proxy is off names its provider, as before.
	a = h.admin(http.MethodPost, "", map[string]any{"id": "initech", "name": "Initech",
		"oidc": map[string]any{"issuer": idpA.Issuer(), "audience": "aud-initech"}})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	a = h.do(h.request(http.MethodGet, "initech", h.metadataURL("initech"), nil))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Equal(t, []any{idpA.Issuer()}, a.json(t)["authorization_servers"])

	logins := map[string]*login{}
	for _, tc := range []struct {
		id, subject string
		idp         *oidctest.Server
	}{{"acme", "alice", idpA}, {"globex", "bob", idpB}} {
		logins[tc.id] = mcpLogin(t, h, tc.id, tc.idp, tc.subject)
	}
	// A token of one tenant is refused by the other.
	a = h.mcpPost("globex", logins["acme"].access, "", initialize)
	assert.Equal(t, http.StatusUnauthorized, a.status)

	// Each login is counted in its tenant's usage and written to its
	// audit trail with the client and the subject, nowhere else.
	require.NoError(t, h.srv.svc.Usage().Flush(t.Context()))
	for id, l := range logins {
		a = h.admin(http.MethodGet, "/"+id+"/usage", nil)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		total := a.json(t)["total"].(map[string]any)
		assert.EqualValues(t, 1, total["logins"], id)
		a = h.admin(http.MethodGet, "/"+id+"/audit", nil)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		var trail struct {
			Events []struct {
				Type, ClientID, Subject string
			} `json:"events"`
		}
		require.NoError(t, json.Unmarshal(a.body, &trail))
		var found []string
		for _, e := range trail.Events {
			if e.Type == "login" {
				found = append(found, e.ClientID+" "+e.Subject)
			}
		}
		assert.Equal(t, []string{l.clientID + " " + l.subject}, found, id)
	}
	assert.NotContains(t, strings.Join(h.keys("*"), " "), secretA)

	// A deleted tenant takes its clients and grants along.
	a = h.admin(http.MethodDelete, "/acme", nil)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Empty(t, h.keys("tenant:{acme}:*"))
	assert.NotEmpty(t, h.keys("tenant:{globex}:client:*"))
}

// login is what an MCP client keeps of its login at a tenant.
type login struct {
	clientID, subject, access string
}

// mcpLogin logs an MCP client into tenant id as the SDK does it, checks
// each step, and then refreshes and revokes its refresh token.
func mcpLogin(t *testing.T, h *harness, id string, idp *oidctest.Server, subject string) *login {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A bare request: the challenge names the protected-resource metadata.
	a := h.mcpPost(id, "", "", initialize)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, `Bearer resource_metadata="`+h.metadataURL(id)+`"`, a.header.Get("WWW-Authenticate"))

	rec := &recorder{next: h.transport(id)}
	hc := &http.Client{Transport: rec, Timeout: 20 * time.Second}
	var authorizeURL string
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName: "Test client of " + id, RedirectURIs: []string{clientRedirect},
			GrantTypes: []string{"authorization_code", "refresh_token"},
		}},
		AuthorizationCodeFetcher: func(_ context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			authorizeURL = args.URL
			return browserLogin(h, id, args.URL)
		},
		Client: hc,
	})
	require.NoError(t, err)
	c := mcp.NewClient(&mcp.Implementation{Name: "oauth-e2e", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.mcpURL(id), HTTPClient: hc, OAuthHandler: handler, MaxRetries: -1}, nil)
	require.NoError(t, err)
	defer cs.Close()
	assert.JSONEq(t, `{"tenant":"`+id+`","subject":"`+subject+`"}`, whoamiOf(t, ctx, cs))

	// The client followed what the server published, and nothing else.
	asMeta := h.base(id) + "/.well-known/oauth-authorization-server"
	if h.multi && h.mode == tenancy.ByPath {
		asMeta = h.public + "/.well-known/oauth-authorization-server/" + id
	}
	seen := rec.list()
	require.GreaterOrEqual(t, len(seen), 6, "%v", seen)
	assert.Equal(t, []string{
		"POST " + h.mcpURL(id) + " 401",
		"GET " + h.metadataURL(id) + " 200",
		"GET " + asMeta + " 200",
		"POST " + h.base(id) + "/oauth/register 201",
		"POST " + h.base(id) + "/oauth/token 200",
		"POST " + h.mcpURL(id) + " 200",
	}, seen[:6])
	au, err := url.Parse(authorizeURL)
	require.NoError(t, err)
	assert.Equal(t, h.base(id)+"/oauth/authorize", au.Scheme+"://"+au.Host+au.Path)
	clientID := au.Query().Get("client_id")
	require.NotEmpty(t, clientID)

	ts, err := handler.TokenSource(ctx)
	require.NoError(t, err)
	tok, err := ts.Token()
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	for _, k := range h.keys("tenant:{" + id + "}:oauth:*") {
		assert.Regexp(t, `^tenant:\{`+id+`\}:oauth:refresh:[A-Za-z0-9_-]{43}$`, k, "only the tokens' bindings are left, in the tenant's namespace")
	}

	// Refresh as an OAuth client library does, at the published token
	// endpoint: the provider rotates the refresh token, the proxy follows.
	asm, err := auth.GetAuthServerMetadata(ctx, h.base(id), hc)
	require.NoError(t, err)
	require.NotNil(t, asm)
	oc := &oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{
		AuthURL: asm.AuthorizationEndpoint, TokenURL: asm.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	octx := context.WithValue(ctx, oauth2.HTTPClient, hc)
	refresh := func(rt string) (*oauth2.Token, error) {
		return oc.TokenSource(octx, &oauth2.Token{RefreshToken: rt}).Token()
	}
	fresh, err := refresh(tok.RefreshToken)
	require.NoError(t, err)
	require.NotEqual(t, tok.RefreshToken, fresh.RefreshToken, "rotated")
	cs2, err := h.connect(ctx, id, fresh.AccessToken)
	require.NoError(t, err)
	assert.JSONEq(t, `{"tenant":"`+id+`","subject":"`+subject+`"}`, whoamiOf(t, ctx, cs2))
	require.NoError(t, cs2.Close())
	_, err = refresh(tok.RefreshToken)
	assertInvalidGrant(t, err, "the old refresh token")

	// Revoke at the published endpoint: the provider revokes it too.
	resp, err := hc.PostForm(asm.RevocationEndpoint, url.Values{"token": {fresh.RefreshToken}, "client_id": {clientID}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, idp.Revoked(fresh.RefreshToken))
	_, err = refresh(fresh.RefreshToken)
	assertInvalidGrant(t, err, "a revoked refresh token")
	// What is left of the login (the access tokens' bindings, the rotated
	// token's record of use, the revocation of its family) is sealed
	// under derived IDs, in the tenant's namespace, and expires.
	for _, k := range h.keys("tenant:{" + id + "}:oauth:*") {
		assert.Regexp(t, `^tenant:\{`+id+`\}:oauth:refresh:[A-Za-z0-9_-]{43}$`, k)
		assert.Positive(t, h.rdb.PTTL(ctx, k).Val(), "%s expires", k)
	}
	return &login{clientID: clientID, subject: subject, access: tok.AccessToken}
}

func assertInvalidGrant(t *testing.T, err error, what string) {
	t.Helper()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "%s: %v", what, err)
	assert.Equal(t, "invalid_grant", re.ErrorCode, what)
}

// whoamiOf calls the whoami tool and returns its structured output.
func whoamiOf(t *testing.T, ctx context.Context, cs *mcp.ClientSession) string {
	t.Helper()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	out, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	return string(out)
}

var (
	consentAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	consentField  = regexp.MustCompile(`name="(request|csrf)" value="([^"]*)"`)
)

// browserLogin is the user's browser, opened by the MCP client at the
// authorization URL: it approves the consent page, logs in at the
// provider (oidctest logs in at once), comes back through the callback
// and stops at the client's redirect URI, whose query it hands back. It
// runs on the client's goroutine, so it reports failures as errors.
func browserLogin(h *harness, id, authorizeURL string) (*auth.AuthorizationResult, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	b := &http.Client{Jar: jar, Transport: h.transport(id), Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := b.Get(authorizeURL)
	if err != nil {
		return nil, err
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("consent page: %d %s", resp.StatusCode, page)
	case !strings.Contains(string(page), "Test client of "+id):
		return nil, fmt.Errorf("the consent page does not name the client: %s", page)
	case !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'"):
		return nil, fmt.Errorf("the consent page may be framed: %q", resp.Header.Get("Content-Security-Policy"))
	}
	action := consentAction.FindSubmatch(page)
	if action == nil {
		return nil, fmt.Errorf("no form on the consent page: %s", page)
	}
	form := url.Values{"decision": {"approve"}}
	for _, m := range consentField.FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	resp, err = b.PostForm(html.UnescapeString(string(action[1])), form)
	for range 4 {
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return nil, fmt.Errorf("%d instead of a redirect", resp.StatusCode)
		}
		if strings.HasPrefix(loc, clientRedirect+"?") {
			u, err := url.Parse(loc)
			if err != nil {
				return nil, err
			}
			q := u.Query()
			if q.Get("error") != "" {
				return nil, fmt.Errorf("the authorization failed: %s", loc)
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		}
		resp, err = b.Get(loc)
	}
	return nil, errors.New("too many redirects")
}

// transport reaches the server and the providers as a client on this
// machine does: names under localhost lead to 127.0.0.1, the server's
// certificate is trusted, and in header mode every request names the
// tenant.
func (h *harness) transport(id string) http.RoundTripper {
	base := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, port, err := net.SplitHostPort(addr); err == nil && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: h.roots},
	}
	h.t.Cleanup(base.CloseIdleConnections)
	return &addHeaders{next: base, set: h.tenantHeaders(id, "")}
}

// recorder remembers the method, URL and status of every request a
// client sends.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	entry := req.Method + " " + req.URL.String()
	if err == nil {
		entry += fmt.Sprintf(" %d", resp.StatusCode)
	}
	r.mu.Lock()
	r.seen = append(r.seen, entry)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestRegistrationBounds checks the bounds registration has had since it
// is the library's: a body over 16 KiB is 413, and a flood of
// registrations from one address is 429 with Retry-After.
func TestRegistrationBounds(t *testing.T) {
	rdb, mini := miniBackend(t)
	h := start(t, rdb, mini, config{Tenancy: tenancy.Config{MultiTenant: true, Identification: tenancy.ByPath, AdminAPIKey: adminKey}})
	require.Equal(t, http.StatusCreated, h.admin(http.MethodPost, "", map[string]any{"id": "acme", "name": "ACME"}).status)
	register := func(body string) answer {
		return h.do(h.request(http.MethodPost, "acme", h.base("acme")+"/oauth/register", body))
	}
	a := register(`{"redirect_uris":["https://app.example/cb"],"client_name":"` + strings.Repeat("x", 16<<10) + `"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, a.status, "%s", a.body)
	for range 40 {
		if a = register(`{"redirect_uris":["https://app.example/cb"]}`); a.status != http.StatusCreated {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, a.status, "%s", a.body)
	assert.NotEmpty(t, a.header.Get("Retry-After"))
}
