package oauthproxy

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

func TestNewValidates(t *testing.T) {
	s := memstore.New(memstore.Config{})
	urls, err := oidcx.PathURLs("https://seed.example.com")
	require.NoError(t, err)
	ok := Config{Clients: s.Clients(), Grants: s.Grants(), URLs: urls}
	for _, tc := range []struct {
		name   string
		change func(*Config)
	}{
		{"no clients", func(c *Config) { c.Clients = nil }},
		{"no grants", func(c *Config) { c.Grants = nil }},
		{"no URLs", func(c *Config) { c.URLs = nil }},
		{"negative timeout", func(c *Config) { c.UpstreamTimeout = -1 }},
		{"negative code TTL", func(c *Config) { c.CodeTTL = -time.Second }},
		{"bad limit", func(c *Config) { c.RegistrationsPerMinute = -2 }},
		{"bad cookie", func(c *Config) { c.ConsentCookie = "a b" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			_, err := New(c)
			assert.Error(t, err)
		})
	}
	bad := ok
	bad.RefreshTTL = -time.Second
	_, err = New(bad)
	assert.EqualError(t, err, "oauthproxy: Config.RefreshTTL must not be negative")
	p, err := New(ok)
	require.NoError(t, err)
	assert.Equal(t, DefaultCodeTTL, p.cfg.CodeTTL)
	assert.Equal(t, DefaultTransactionTTL, p.cfg.TransactionTTL)
	assert.Equal(t, DefaultRegistrationsPerMinute, p.cfg.RegistrationsPerMinute)

	tt := &tenant.Tenant{ID: "acme", OIDC: tenant.OIDC{Issuer: "https://idp.example", ClientID: "x"}}
	r := httptest.NewRequest(http.MethodGet, "https://seed.example.com/acme/oauth/token", nil)
	assert.Equal(t, "https://seed.example.com/acme", p.Issuer(r, tt))
	assert.Equal(t, []string{"https://seed.example.com/acme"}, p.AuthorizationServers(r, tt))
	tt.OIDC.ClientID = ""
	assert.Equal(t, []string{"https://idp.example"}, p.AuthorizationServers(r, tt), "proxy off: the provider itself")
	assert.Nil(t, p.AuthorizationServers(r, &tenant.Tenant{ID: "x"}))

	// A custom MCP path is not part of the issuer.
	urls.Path = "/v1/mcp"
	p, err = New(Config{Clients: s.Clients(), Grants: s.Grants(), URLs: urls})
	require.NoError(t, err)
	assert.Equal(t, "https://seed.example.com/acme", p.Issuer(r, tt))
}

func TestRegistrationWindows(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRegistrations(2, time.Minute, 3)
	assert.Zero(t, l.take("a", now))
	assert.Zero(t, l.take("a", now.Add(time.Second)))
	assert.Equal(t, 59*time.Second, l.take("a", now.Add(time.Second)))
	assert.Zero(t, l.take("a", now.Add(time.Minute)), "a new window")
	// Bounded: a fourth key drops the oldest window.
	assert.Zero(t, l.take("b", now.Add(time.Minute)))
	assert.Zero(t, l.take("c", now.Add(time.Minute+time.Second)))
	assert.Zero(t, l.take("d", now.Add(time.Minute+2*time.Second)))
	assert.LessOrEqual(t, l.windows.Len(), 3)
	off := newRegistrations(-1, time.Minute, 3)
	for range 10 {
		assert.Zero(t, off.take("a", now))
	}
}

func TestAddrKey(t *testing.T) {
	assert.Equal(t, "192.0.2.1", addrKey("192.0.2.1"))
	assert.Equal(t, "192.0.2.1", addrKey("::ffff:192.0.2.1"))
	assert.Equal(t, "2001:db8:1:2::/64", addrKey("2001:db8:1:2:aaaa::1"))
	assert.Equal(t, addrKey("2001:db8:1:2::5"), addrKey("2001:db8:1:2:ffff::9"), "one /64 counts once")
	assert.Equal(t, "not-an-ip", addrKey("not-an-ip"))
}

func TestMatchRedirect(t *testing.T) {
	reg := []string{"http://127.0.0.1:5000/cb", "https://app.example/cb?x=1", "http://[::1]/cb", "http://localhost:1/cb"}
	for _, tc := range []struct {
		uri  string
		want bool
	}{
		{"http://127.0.0.1:5000/cb", true},
		{"http://127.0.0.1:6000/cb", true},
		{"http://127.0.0.1/cb", true},
		{"http://[::1]:7000/cb", true},
		{"http://localhost:9/cb", true},
		{"https://app.example/cb?x=1", true},
		{"https://app.example:444/cb?x=1", false}, // not loopback: exact
		{"https://app.example/cb?x=2", false},
		{"http://127.0.0.1:6000/cb/", false},
		{"http://127.0.0.1:6000/cb?y", false},
		{"http://127.0.0.2:5000/cb", false},
		{"http://127.0.0.1:6000/cb#f", false},
		{"http://u@127.0.0.1:6000/cb", false},
		{"https://127.0.0.1:5000/cb", false},
		{"http://127.0.0.1:6000/%63b", false},
	} {
		assert.Equal(t, tc.want, matchRedirect(reg, tc.uri), tc.uri)
	}
}

func TestWithParams(t *testing.T) {
	p := url.Values{"code": {"c"}, "state": {"<s>"}}
	assert.Equal(t, "https://a/cb?code=c&state=%3Cs%3E", withParams("https://a/cb", p))
	assert.Equal(t, "https://a/cb?x=1&code=c&state=%3Cs%3E", withParams("https://a/cb?x=1", p))
	assert.Equal(t, "https://a/cb?code=c&state=%3Cs%3E", withParams("https://a/cb?", p))
}

func TestPKCEFormats(t *testing.T) {
	assert.True(t, validChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
	assert.False(t, validChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"))
	assert.False(t, validChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"))
	// RFC 7636 appendix B.
	assert.True(t, pkceMatches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
	assert.False(t, pkceMatches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
	assert.False(t, validVerifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEj+k"))
}

func TestDeriveSeparates(t *testing.T) {
	id1, k1 := derive(store.GrantCode, "acme", "secret")
	id2, k2 := derive(store.GrantCode, "acme-corp", "secret")
	id3, _ := derive(store.GrantRefresh, "acme", "secret")
	id4, _ := derive(store.GrantCode, "acme", "secret2")
	assert.NotEqual(t, id1, id2, "another tenant")
	assert.NotEqual(t, k1, k2)
	assert.NotEqual(t, id1, id3, "another kind")
	assert.NotEqual(t, id1, id4)
	assert.NoError(t, store.ValidKey(id1))
	assert.NotContains(t, id1, "secret")
}

// TestSealedRecords checks that a record opens only with its own secret
// and tenant, even when its bytes are moved under another record's key.
func TestSealedRecords(t *testing.T) {
	s := memstore.New(memstore.Config{})
	urls, err := oidcx.PathURLs("https://seed.example.com")
	require.NoError(t, err)
	p, err := New(Config{Clients: s.Clients(), Grants: s.Grants(), URLs: urls})
	require.NoError(t, err)
	ctx := t.Context()
	for _, id := range []string{"acme", "globex"} {
		_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err)
	}
	require.NoError(t, p.putGrant(ctx, "acme", store.GrantCode, "code-a", &refreshBinding{ClientID: "c"}, time.Minute))
	idA, _ := derive(store.GrantCode, "acme", "code-a")
	raw, err := s.Grants().Get(ctx, "acme", store.GrantCode, idA)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), `"c"`, "sealed")

	// The same bytes under globex's ID for the same code do not open.
	idB, _ := derive(store.GrantCode, "globex", "code-a")
	require.NoError(t, s.Grants().Put(ctx, "globex", store.GrantCode, idB, raw, time.Minute))
	var b refreshBinding
	assert.ErrorIs(t, p.takeGrant(ctx, "globex", store.GrantCode, "code-a", &b), errNoGrant)
	require.NoError(t, p.takeGrant(ctx, "acme", store.GrantCode, "code-a", &b))
	assert.Equal(t, "c", b.ClientID)
	assert.ErrorIs(t, p.takeGrant(ctx, "acme", store.GrantCode, "code-a", &b), errNoGrant, "once")
}

func TestDiscoveryCache(t *testing.T) {
	idp := oidctest.New(t)
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d := newDiscovery(newUpstreamClient(http.DefaultTransport, 5*time.Second, loopbackOK(t)), loopbackOK(t), 5*time.Second, time.Hour, clock.Now, slog.New(slog.DiscardHandler))
	ctx := context.Background()

	// Concurrent first uses share one fetch.
	var wg sync.WaitGroup
	var fails atomic.Int32
	for range 20 {
		wg.Go(func() {
			if _, err := d.get(ctx, "acme", idp.Issuer()); err != nil {
				fails.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, fails.Load())
	assert.Equal(t, 1, idp.DiscoveryRequests())
	doc, err := d.get(ctx, "acme", idp.Issuer())
	require.NoError(t, err)
	assert.Equal(t, idp.TokenURL(), doc.TokenEndpoint)
	assert.Equal(t, 1, idp.DiscoveryRequests(), "cached")

	// Expired and the provider down: the old document is kept, and the
	// provider is asked again only after the back-off.
	idp.SetDown(true)
	clock.Advance(time.Hour + time.Second)
	doc, err = d.get(ctx, "acme", idp.Issuer())
	require.NoError(t, err)
	assert.Equal(t, idp.TokenURL(), doc.TokenEndpoint)
	assert.Equal(t, 2, idp.DiscoveryRequests())
	_, _ = d.get(ctx, "acme", idp.Issuer())
	assert.Equal(t, 2, idp.DiscoveryRequests(), "backing off")

	// Another issuer for the same tenant is fetched at once; a failure
	// with nothing known is an error, remembered for the back-off.
	other := oidctest.New(t)
	other.SetDown(true)
	_, err = d.get(ctx, "acme", other.Issuer())
	require.Error(t, err)
	_, err = d.get(ctx, "acme", other.Issuer())
	require.Error(t, err)
	assert.Equal(t, 1, other.DiscoveryRequests())
	other.SetDown(false)
	clock.Advance(2 * time.Second)
	_, err = d.get(ctx, "acme", other.Issuer())
	require.NoError(t, err)

	d.forget("acme")
	assert.Empty(t, d.entries)
}

func TestDiscoveryRefusesForeignDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"other issuer":        `{"issuer":"https://evil.example","authorization_endpoint":"https://evil.example/a","token_endpoint":"https://evil.example/t"}`,
		"http token endpoint": `{"issuer":"%s","authorization_endpoint":"https://idp.example/a","token_endpoint":"http://evil.example/t"}`,
		"not JSON":            `<html>`,
	} {
		t.Run(name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(replaceIssuer(doc, srv.URL)))
			}))
			defer srv.Close()
			d := newDiscovery(newUpstreamClient(http.DefaultTransport, time.Second, loopbackOK(t)), loopbackOK(t), time.Second, time.Hour, time.Now, slog.New(slog.DiscardHandler))
			_, err := d.get(context.Background(), "acme", srv.URL)
			assert.Error(t, err)
		})
	}
}

func replaceIssuer(doc, issuer string) string {
	out := []byte{}
	for i := 0; i < len(doc); i++ {
		if i+1 < len(doc) && doc[i] == '%' && doc[i+1] == 's' {
			out = append(out, issuer...)
			i++
			continue
		}
		out = append(out, doc[i])
	}
	return string(out)
}

func TestUpstreamClientRedirects(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer target.Close()
	hops := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loopback":
			http.Redirect(w, r, target.URL, http.StatusFound)
		case "/plain-http":
			http.Redirect(w, r, "http://example.com/", http.StatusFound)
		case "/post":
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		}
	}))
	defer hops.Close()
	c := newUpstreamClient(http.DefaultTransport, 5*time.Second, loopbackOK(t))
	resp, err := c.Get(hops.URL + "/loopback")
	require.NoError(t, err, "a GET may follow a redirect to a provider URL")
	resp.Body.Close()
	_, err = c.Get(hops.URL + "/plain-http")
	assert.ErrorIs(t, err, oidcx.ErrProviderURL, "every hop passes the provider rule: never plain http off loopback")
	_, err = c.Post(hops.URL+"/post", "application/x-www-form-urlencoded", nil)
	assert.ErrorIs(t, err, errRedirect, "a POST is never redirected")
}

// loopbackOK is the provider rule of tests, whose providers listen on
// 127.0.0.1.
func loopbackOK(t *testing.T) func(string) error {
	v, err := oidcx.New(oidcx.Config{InsecureAllowLoopback: true})
	require.NoError(t, err)
	return v.CheckProviderURL
}

// TestLoopbackProviderRefusedByDefault: without the opt-in, the proxy
// neither fetches from nor sends a browser to a provider on loopback.
func TestLoopbackProviderRefusedByDefault(t *testing.T) {
	s := memstore.New(memstore.Config{})
	urls, err := oidcx.PathURLs("https://seed.example.com")
	require.NoError(t, err)
	p, err := New(Config{Clients: s.Clients(), Grants: s.Grants(), URLs: urls, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	idp := oidctest.New(t)
	tt := &tenant.Tenant{ID: "acme", OIDC: tenant.OIDC{Issuer: idp.Issuer(), ClientID: "x"}}
	_, err = p.endpointsFor(t.Context(), tt)
	assert.ErrorIs(t, err, oidcx.ErrProviderURL)
	assert.Zero(t, idp.DiscoveryRequests())
	tt.OIDC.AuthorizationURL, tt.OIDC.TokenURL, tt.OIDC.RevocationURL = idp.AuthorizeURL(), idp.TokenURL(), idp.RevocationURL()
	_, err = p.endpointsFor(t.Context(), tt)
	assert.ErrorIs(t, err, oidcx.ErrProviderURL, "configured endpoints too")
}

func TestCappedBody(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"` + strings.Repeat("a", maxProviderBody) + `"}`))
	}))
	defer big.Close()
	d := newDiscovery(newUpstreamClient(http.DefaultTransport, time.Second, loopbackOK(t)), loopbackOK(t), time.Second, time.Hour, time.Now, slog.New(slog.DiscardHandler))
	_, err := d.get(context.Background(), "acme", big.URL)
	assert.ErrorIs(t, err, errBodyTooLarge)
}

// A refresh token longer than the proxy reads back is not bound (the
// client would hold a token that is never honoured): bind reports it, so
// the token is withheld. One of the longest length the proxy reads is
// bound and found.
func TestBindRefusesWhatCannotBeRead(t *testing.T) {
	p := acmeProxy(t, memstore.Config{})
	r := httptest.NewRequest(http.MethodPost, "/acme/oauth/token", nil)
	tt := &tenant.Tenant{ID: "acme"}

	long := strings.Repeat("r", maxSecretLength+1)
	require.ErrorIs(t, p.bind(r, tt, long, refreshBinding{ClientID: "c"}), errLongSecret)
	assert.ErrorIs(t, p.getGrant(t.Context(), "acme", store.GrantRefresh, long, &refreshBinding{}), errNoGrant)

	longest := strings.Repeat("r", maxSecretLength)
	require.NoError(t, p.bind(r, tt, longest, refreshBinding{ClientID: "c"}))
	var b refreshBinding
	require.NoError(t, p.getGrant(t.Context(), "acme", store.GrantRefresh, longest, &b))
	assert.Equal(t, "c", b.ClientID)
}

// TestAccessTTL: an access token's binding lives until the token expires,
// as the provider's answer says, else as the token's exp says, and an
// hour when neither says; never past the refresh lifetime, never for a
// token already expired.
func TestAccessTTL(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	jwt := func(payload string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	const max = 30 * 24 * time.Hour
	for _, tc := range []struct {
		name string
		tok  tokenResult
		want time.Duration
	}{
		{"expires_in", tokenResult{AccessToken: "opaque", Expiry: now.Add(10 * time.Minute).Unix()}, 10 * time.Minute},
		{"expires_in over the refresh lifetime", tokenResult{AccessToken: "opaque", Expiry: now.Add(1000 * time.Hour).Unix()}, max},
		{"expired", tokenResult{AccessToken: "opaque", Expiry: now.Add(-time.Minute).Unix()}, -time.Minute},
		{"the token's exp", tokenResult{AccessToken: jwt(fmt.Sprintf(`{"exp":%d}`, now.Add(20*time.Minute).Unix()))}, 20 * time.Minute},
		{"opaque, no expires_in", tokenResult{AccessToken: "opaque"}, time.Hour},
		{"a JWT without exp", tokenResult{AccessToken: jwt(`{"sub":"a"}`)}, time.Hour},
		{"a JWT with a silly exp", tokenResult{AccessToken: jwt(`{"exp":1e300}`)}, time.Hour},
	} {
		assert.Equal(t, tc.want, accessTTL(tc.tok, now, max), tc.name)
	}
	assert.Equal(t, 5*time.Minute, accessTTL(tokenResult{AccessToken: "opaque"}, now, 5*time.Minute), "at most the refresh lifetime")
}

// TestFamilyMarkOutlivesItsTokens: a family's revocation outlives any
// binding of the family: a refresh that passed the family check just
// before the revocation binds its token up to one provider request later,
// for RefreshTTL from then.
func TestFamilyMarkOutlivesItsTokens(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := acmeProxy(t, memstore.Config{Clock: clock.Now})

	require.NoError(t, p.revokeFamily(t.Context(), "acme", "family-1"))
	clock.Advance(p.cfg.RefreshTTL + p.cfg.UpstreamTimeout)
	var mark struct{}
	assert.NoError(t, p.getGrant(t.Context(), "acme", grantFamily, "family-1", &mark),
		"a token bound one provider request after the revocation is still refused at the end of its life")
}

// acmeProxy returns a proxy in path mode on a memstore made with cfg that
// holds the tenant acme.
func acmeProxy(t *testing.T, cfg memstore.Config) *Proxy {
	t.Helper()
	s := memstore.New(cfg)
	_, err := s.Tenants().Create(t.Context(), &tenant.Tenant{ID: "acme", Name: "Acme", Status: tenant.StatusActive})
	require.NoError(t, err)
	urls, err := oidcx.PathURLs("https://seed.example.com")
	require.NoError(t, err)
	p, err := New(Config{Clients: s.Clients(), Grants: s.Grants(), URLs: urls})
	require.NoError(t, err)
	return p
}
