package tenancy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// Two keys of TENANT_ENCRYPTION_KEY: hex and base64.
const (
	hexKey    = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	base64Key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
)

const testAdminKey = "an-admin-key-long-enough-0123456789"

func TestConfigEncryptionKeysAndDefaultClient(t *testing.T) {
	c, err := ConfigFrom(env(map[string]string{
		"TENANT_ENCRYPTION_KEY": hexKey + ", " + base64Key,
		"OIDC_ISSUER":           "https://login.example.com", "OIDC_AUDIENCE": "seed",
		"OAUTH_CLIENT_ID": "seed-proxy", "OAUTH_CLIENT_SECRET": "upstream-secret",
		"OAUTH_SCOPES": "openid profile,email", "OAUTH_REVOCATION_URL": "https://login.example.com/revoke",
	}))
	require.NoError(t, err)
	require.Equal(t, 2, c.EncryptionKeys.Len())
	o := c.Default.OIDC
	assert.Equal(t, "seed-proxy", o.ClientID)
	assert.Equal(t, tenant.Scopes("openid profile email"), o.Scopes)
	assert.Equal(t, "https://login.example.com/revoke", o.RevocationURL)
	assert.True(t, keyring.IsSealed(o.ClientSecret), "sealed at start: %q", o.ClientSecret)
	assert.True(t, c.EncryptionKeys.Current(o.ClientSecret))
	clear, err := c.EncryptionKeys.Open(o.ClientSecret, tenant.ClientSecretContext(tenant.DefaultID))
	require.NoError(t, err)
	assert.Equal(t, "upstream-secret", clear)
	_, err = c.withDefaults()
	assert.Error(t, err, "Redis missing, but nothing else")
	c.Redis = fakeRedis(t)
	_, err = c.withDefaults()
	require.NoError(t, err, "tenant default validates")

	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"TENANT_ENCRYPTION_KEY": "not-a-key"}, "TENANT_ENCRYPTION_KEY is invalid"},
		{map[string]string{"TENANT_ENCRYPTION_KEY": hexKey + ",,"}, "TENANT_ENCRYPTION_KEY is invalid"},
		{map[string]string{"TENANT_ENCRYPTION_KEY": hexKey + "," + hexKey}, "TENANT_ENCRYPTION_KEY is invalid"},
		{map[string]string{"OAUTH_CLIENT_ID": "c", "OAUTH_CLIENT_SECRET": "the-secret-value"}, "OAUTH_CLIENT_SECRET needs TENANT_ENCRYPTION_KEY"},
		{map[string]string{"TENANT_ENCRYPTION_KEY": hexKey, "OAUTH_CLIENT_SECRET": "the-secret-value"}, "without OAUTH_CLIENT_ID"},
		{map[string]string{"OAUTH_SCOPES": `openid "x"`}, "OAUTH_SCOPES"},
	} {
		_, err := ConfigFrom(env(tc.env))
		require.Error(t, err, "%v", tc.env)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "the-secret-value", "no error quotes the secret")
		assert.NotContains(t, err.Error(), hexKey[:16], "no error quotes a key")
		assert.NotContains(t, err.Error(), "not-a-key", "no error quotes a key")
	}
}

// The Service's admin API seals client secrets with Config.EncryptionKeys,
// and refuses them without.
func TestServiceAdminSealsClientSecrets(t *testing.T) {
	const key = "an-admin-key-long-enough-0123456789"
	body := `{"id":"acme","name":"ACME","oidc":{"issuer":"https://login.acme.example","audience":"a","clientId":"c","clientSecret":"s3cret"}}`
	ring, err := keyring.Parse(hexKey)
	require.NoError(t, err)
	for _, keys := range []*keyring.Keyring{nil, ring} {
		s := newService(t, Config{Redis: fakeRedis(t), MultiTenant: true, AdminAPIKey: key, EncryptionKeys: keys})
		r := httptest.NewRequest(http.MethodPost, "/admin/tenants", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(AdminKeyHeader, key)
		w := httptest.NewRecorder()
		s.Admin().ServeHTTP(w, r)
		if keys == nil {
			assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), "TENANT_ENCRYPTION_KEY")
			continue
		}
		require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
		assert.Contains(t, w.Body.String(), `"clientSecretSet":true`)
		stored, err := s.Store().Tenants().Get(t.Context(), "acme")
		require.NoError(t, err)
		clear, err := ring.Open(stored.OIDC.ClientSecret, tenant.ClientSecretContext("acme"))
		require.NoError(t, err)
		assert.Equal(t, "s3cret", clear)
	}
}

// proxyWorld is a Service in path mode with its OAuth proxy mounted as
// the package documentation shows.
type proxyWorld struct {
	svc   *Service
	proxy *oauthproxy.Proxy
	srv   *httptest.Server
}

func newProxyWorld(t *testing.T, cfg Config, pcfg oauthproxy.Config) *proxyWorld {
	t.Helper()
	cfg.Redis = fakeRedis(t)
	cfg.OIDC.InsecureAllowLoopback = true // the test providers listen on 127.0.0.1
	w := &proxyWorld{svc: newService(t, cfg)}
	w.srv = httptest.NewUnstartedServer(nil)
	urls, err := w.svc.URLs("http://" + w.srv.Listener.Addr().String())
	require.NoError(t, err)
	pcfg.URLs = urls
	w.proxy, err = w.svc.OAuthProxy(pcfg)
	require.NoError(t, err)
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls, AuthorizationServers: w.proxy.AuthorizationServers})
	require.NoError(t, err)
	scoped := http.NewServeMux()
	scoped.Handle("/oauth/", w.proxy)
	scoped.Handle(oauthproxy.MetadataPath, w.proxy)
	scoped.Handle(oauthproxy.OpenIDConfigurationPath, w.proxy)
	mux := http.NewServeMux()
	for _, rt := range w.svc.OAuthMetadataRoutes(w.proxy) {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	mux.Handle(w.svc.MetadataRoute(meta))
	mux.Handle("/", w.svc.Middleware(scoped))
	w.srv.Config.Handler = mux
	w.srv.Start()
	t.Cleanup(w.srv.Close)
	return w
}

// base is the tenant's base URL: the issuer of its authorization server.
func (w *proxyWorld) base(id string) string {
	if w.svc.cfg.MultiTenant && w.svc.cfg.Identification == ByPath {
		return w.srv.URL + "/" + id
	}
	return w.srv.URL
}

// addTenant stores a tenant whose proxy is on, with a public upstream
// client at idp.
func (w *proxyWorld) addTenant(t *testing.T, id string, idp *oidctest.Server) {
	t.Helper()
	idp.RegisterClient(oidctest.Client{ID: "proxy-" + id, Audience: "mcp-" + id,
		RedirectURIs: []string{w.base(id) + oauthproxy.CallbackPath}})
	createTenant(t, w.svc, id, func(tn *tenant.Tenant) {
		tn.Name = "Tenant " + id
		tn.OIDC = tenant.OIDC{Issuer: idp.Issuer(), Audience: "mcp-" + id, ClientID: "proxy-" + id}
	})
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	formField  = regexp.MustCompile(`name="(request|csrf)" value="([^"]*)"`)
)

// approve registers a client at the tenant, asks for an authorization
// and approves it as a browser does, and returns the proxy's answer to
// the approval: a redirect to the provider's authorization endpoint.
func (w *proxyWorld) approve(t *testing.T, id string) *http.Response {
	t.Helper()
	redirect := "http://127.0.0.1:53682/callback"
	resp, err := http.Post(w.base(id)+oauthproxy.RegisterPath, "application/json",
		strings.NewReader(`{"redirect_uris":["`+redirect+`"]}`))
	require.NoError(t, err)
	reg := readJSON(t, resp)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", reg)
	verifier := oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {reg["client_id"].(string)}, "redirect_uri": {redirect},
		"state": {"xyz"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = browser.Get(w.base(id) + oauthproxy.AuthorizePath + "?" + q.Encode())
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
	action := formAction.FindSubmatch(page)
	require.NotNil(t, action, "%s", page)
	form := url.Values{"decision": {"approve"}}
	for _, m := range formField.FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	resp, err = browser.PostForm(html.UnescapeString(string(action[1])), form)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func readJSON(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return m
}

// The proxy reaches providers by the verifier's rule, and forgets a
// tenant's discovered endpoints when the tenant changes: the next login
// discovers them again.
func TestOAuthProxyFollowsTenantChanges(t *testing.T) {
	w := newProxyWorld(t, Config{MultiTenant: true, Identification: ByPath, AdminAPIKey: testAdminKey}, oauthproxy.Config{})
	idp := oidctest.New(t)
	w.addTenant(t, "acme", idp)

	resp := w.approve(t, "acme")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), idp.AuthorizeURL()+"?"), resp.Header.Get("Location"))
	assert.Equal(t, 1, idp.DiscoveryRequests())
	require.Equal(t, http.StatusSeeOther, w.approve(t, "acme").StatusCode)
	assert.Equal(t, 1, idp.DiscoveryRequests(), "the endpoints are cached")

	// A change of the tenant drops them.
	r := httptest.NewRequest(http.MethodPatch, "/admin/tenants/acme", strings.NewReader(`{"name":"ACME"}`))
	r.Header.Set("Content-Type", "application/merge-patch+json")
	r.Header.Set(AdminKeyHeader, testAdminKey)
	rec := httptest.NewRecorder()
	w.svc.Admin().ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, http.StatusSeeOther, w.approve(t, "acme").StatusCode)
	assert.Equal(t, 2, idp.DiscoveryRequests(), "discovered again after the change")
}

// Registrations are counted by the client address the trusted proxies
// report, not by the proxy's own.
func TestOAuthProxyCountsRegistrationsByForwardedClient(t *testing.T) {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	w := newProxyWorld(t, Config{MultiTenant: true, Identification: ByPath, TrustedProxies: []netip.Prefix{loopback}},
		oauthproxy.Config{RegistrationsPerMinute: 1})
	w.addTenant(t, "acme", oidctest.New(t))
	register := func(client string) int {
		r, err := http.NewRequest(http.MethodPost, w.base("acme")+oauthproxy.RegisterPath,
			strings.NewReader(`{"redirect_uris":["http://127.0.0.1:53682/callback"]}`))
		require.NoError(t, err)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Forwarded", "for="+client)
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusCreated, register("192.0.2.1"))
	assert.Equal(t, http.StatusTooManyRequests, register("192.0.2.1"))
	assert.Equal(t, http.StatusCreated, register("192.0.2.2"), "another client behind the same proxy")
}

// Single-tenant mode: tenant default's upstream client comes from
// OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET, and its authorization server
// is the server itself.
func TestOAuthProxySingleTenant(t *testing.T) {
	idp := oidctest.New(t)
	cfg, err := ConfigFrom(env(map[string]string{
		"TENANT_ENCRYPTION_KEY": hexKey, "OIDC_ISSUER": idp.Issuer(), "OIDC_AUDIENCE": "seed",
		"OAUTH_CLIENT_ID": "seed-proxy", "OAUTH_CLIENT_SECRET": "upstream-secret",
	}))
	require.NoError(t, err)
	w := newProxyWorld(t, cfg, oauthproxy.Config{})
	idp.RegisterClient(oidctest.Client{ID: "seed-proxy", Secret: "upstream-secret", Audience: "seed",
		RedirectURIs: []string{w.srv.URL + oauthproxy.CallbackPath}})

	resp, err := http.Get(w.srv.URL + oauthproxy.MetadataPath)
	require.NoError(t, err)
	meta := readJSON(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", meta)
	assert.Equal(t, w.srv.URL, meta["issuer"])
	resp, err = http.Get(w.srv.URL + oidcx.WellKnownPath)
	require.NoError(t, err)
	assert.Equal(t, []any{w.srv.URL}, readJSON(t, resp)["authorization_servers"])

	resp = w.approve(t, "default")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "seed-proxy", loc.Query().Get("client_id"))
	assert.Equal(t, w.srv.URL+oauthproxy.CallbackPath, loc.Query().Get("redirect_uri"))
}

// In path mode the metadata of issuer <public>/acme lives at
// /.well-known/oauth-authorization-server/acme (and the OpenID variant),
// and a malformed or unknown tenant there is refused as on every route.
func TestOAuthMetadataRoutesPathMode(t *testing.T) {
	w := newProxyWorld(t, Config{MultiTenant: true, Identification: ByPath}, oauthproxy.Config{})
	w.addTenant(t, "acme", oidctest.New(t))
	for _, tc := range []struct {
		path string
		want int
	}{
		{oauthproxy.MetadataPath + "/acme", http.StatusOK},
		{oauthproxy.OpenIDConfigurationPath + "/acme", http.StatusOK},
		{"/acme" + oauthproxy.OpenIDConfigurationPath, http.StatusOK},
		{"/acme" + oauthproxy.MetadataPath, http.StatusOK},
		{oauthproxy.MetadataPath + "/globex", http.StatusNotFound},
		{oauthproxy.MetadataPath + "/%61cme", http.StatusBadRequest},
	} {
		resp, err := http.Get(w.srv.URL + tc.path)
		require.NoError(t, err)
		body := readJSON(t, resp)
		assert.Equal(t, tc.want, resp.StatusCode, "%s: %v", tc.path, body)
		if tc.want == http.StatusOK {
			assert.Equal(t, w.base("acme"), body["issuer"], tc.path)
		}
	}
}
