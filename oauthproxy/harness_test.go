package oauthproxy_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The identification modes.
type mode string

const (
	bySubdomain mode = "subdomain"
	byPath      mode = "path"
	byHeader    mode = "header"
)

var modes = []mode{bySubdomain, byPath, byHeader}

const tenantHeader = "X-Tenant-ID"

// stores are the stores a harness runs on.
type stores struct {
	tenants store.Tenants
	clients store.Clients
	grants  store.Grants
	// rdb is the Redis client, nil for memstore.
	rdb redis.UniversalClient
}

type backend func(t *testing.T) stores

func memBackend(*testing.T) stores {
	s := memstore.New(memstore.Config{})
	return stores{tenants: s.Tenants(), clients: s.Clients(), grants: s.Grants()}
}

func miniBackend(t *testing.T) stores {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s := redisstore.New(rdb, redisstore.Config{})
	return stores{tenants: s.Tenants(), clients: s.Clients(), grants: s.Grants(), rdb: rdb}
}

func realBackend(t *testing.T) stores {
	rdb := testredis.Standalone(t)
	s := redisstore.New(rdb, redisstore.Config{})
	return stores{tenants: s.Tenants(), clients: s.Clients(), grants: s.Grants(), rdb: rdb}
}

// harness is a server with the proxy in one identification mode, its
// stores, the tenants' providers, and the log of everything.
type harness struct {
	t       *testing.T
	mode    mode
	srv     *httptest.Server
	port    string
	public  string
	st      stores
	ring    *keyring.Keyring
	proxy   *oauthproxy.Proxy
	logs    *testlog.Buffer
	idps    map[string]*oidctest.Server
	secrets map[string]string
}

// newHarness starts a server; configure changes the proxy's
// configuration before it is built.
func newHarness(t *testing.T, m mode, be backend, configure ...func(*oauthproxy.Config)) *harness {
	t.Helper()
	h := &harness{t: t, mode: m, st: be(t), logs: &testlog.Buffer{}, idps: map[string]*oidctest.Server{}, secrets: map[string]string{}}
	ring, err := keyring.New([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	h.ring = ring
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, h.port, _ = net.SplitHostPort(l.Addr().String())

	var res resolve.Resolver
	var urls *oidcx.ModeURLs
	switch m {
	case bySubdomain:
		h.public = "http://localhost:" + h.port
		res, err = resolve.Subdomain("localhost")
		require.NoError(t, err)
		urls, err = oidcx.SubdomainURLs(h.public, "localhost")
	case byPath:
		h.public = "http://127.0.0.1:" + h.port
		res = resolve.Path()
		urls, err = oidcx.PathURLs(h.public)
	case byHeader:
		h.public = "http://127.0.0.1:" + h.port
		res, err = resolve.Header(tenantHeader)
		require.NoError(t, err)
		urls, err = oidcx.HeaderURLs(h.public)
	}
	require.NoError(t, err)

	verifier, err := oidcx.New(oidcx.Config{InsecureAllowLoopback: true}) // the test provider listens on 127.0.0.1
	require.NoError(t, err)
	cfg := oauthproxy.Config{
		Clients: h.st.clients, Grants: h.st.grants, URLs: urls, Keyring: ring, Logger: logger,
		UpstreamTimeout: 2 * time.Second, CheckProviderURL: verifier.CheckProviderURL,
	}
	for _, c := range configure {
		c(&cfg)
	}
	h.proxy, err = oauthproxy.New(cfg)
	require.NoError(t, err)

	withTenant, err := middleware.Tenant(middleware.TenantConfig{
		Resolver:  res,
		Cache:     middleware.NewCache(h.st.tenants, middleware.CacheConfig{}),
		OnRefused: middleware.LogRefusal(logger),
	})
	require.NoError(t, err)
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: verifier, URLs: urls, Logger: logger})
	require.NoError(t, err)
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls, AuthorizationServers: h.proxy.AuthorizationServers, Logger: logger})
	require.NoError(t, err)

	scoped := http.NewServeMux()
	scoped.Handle("/oauth/", h.proxy)
	scoped.Handle(oauthproxy.MetadataPath, h.proxy)
	scoped.Handle(oauthproxy.OpenIDConfigurationPath, h.proxy)
	scoped.Handle(oidcx.WellKnownPath, meta)
	scoped.Handle("/mcp", bearer(http.HandlerFunc(whoami)))
	outer := http.NewServeMux()
	for _, rt := range oauthproxy.MetadataRoutes(h.proxy, withTenant, m == byPath) {
		outer.Handle(rt.Pattern, rt.Handler)
	}
	if m == byPath {
		outer.Handle(oidcx.WellKnownPath+"/", resourceMetadataByPath(withTenant(meta)))
	}
	outer.Handle("/", withTenant(scoped))

	h.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: outer}}
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// whoami answers with the verified caller, as the MCP tool does.
func whoami(w http.ResponseWriter, r *http.Request) {
	c, _ := oidcx.ClaimsFromContext(r.Context())
	_ = json.NewEncoder(w).Encode(map[string]string{"tenant": c.TenantID, "subject": c.Subject})
}

// resourceMetadataByPath serves /.well-known/oauth-protected-resource/<id>/mcp
// in path mode, as the root package's MetadataRoute does.
func resourceMetadataByPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, oidcx.WellKnownPath+"/")
		id, ok := strings.CutSuffix(rest, oidcx.DefaultMCPPath)
		if !ok || id == "" || strings.Contains(id, "/") {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/"+id+oidcx.WellKnownPath, ""
		next.ServeHTTP(w, r2)
	})
}

// base returns the tenant's base URL, its authorization server's issuer.
func (h *harness) base(id string) string {
	switch h.mode {
	case bySubdomain:
		return "http://" + id + ".localhost:" + h.port
	case byPath:
		return h.public + "/" + id
	}
	return h.public
}

// addTenant creates tenant id on idp, with an upstream client of the
// proxy registered at idp. secret "" makes the upstream client public.
// configure may change the tenant before it is stored.
func (h *harness) addTenant(id string, idp *oidctest.Server, secret string, configure ...func(*tenant.Tenant)) *tenant.Tenant {
	h.t.Helper()
	idp.RegisterClient(oidctest.Client{
		ID: "proxy-" + id, Secret: secret, Audience: "mcp-" + id,
		RedirectURIs: []string{h.base(id) + oauthproxy.CallbackPath},
	})
	tt := &tenant.Tenant{
		ID: id, Name: "Tenant " + strings.ToUpper(id), Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: idp.Issuer(), Audience: "mcp-" + id, ClientID: "proxy-" + id, Scopes: "openid profile"},
	}
	if secret != "" {
		sealed, err := h.ring.Seal(secret, tenant.ClientSecretContext(id))
		require.NoError(h.t, err)
		tt.OIDC.ClientSecret = sealed
	}
	for _, c := range configure {
		c(tt)
	}
	got, err := h.st.tenants.Create(context.Background(), tt)
	require.NoError(h.t, err)
	h.idps[id] = idp
	h.secrets[id] = secret
	return got
}

// transport sends requests for *.localhost to the server and, in header
// mode, adds the tenant header to every request for the server.
type transport struct {
	h      *harness
	tenant string
	base   http.RoundTripper
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tr.h.mode == byHeader && r.URL.Host == "127.0.0.1:"+tr.h.port && tr.tenant != "" {
		r = r.Clone(r.Context())
		r.Header.Set(tenantHeader, tr.tenant)
	}
	return tr.base.RoundTrip(r)
}

func (h *harness) roundTripper(tenantID string) http.RoundTripper {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	base := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			if strings.HasSuffix(host, ".localhost") || host == "localhost" {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}
	return &transport{h: h, tenant: tenantID, base: base}
}

// client returns an HTTP client of tenant id's MCP client: no cookies, no
// redirects followed.
func (h *harness) client(id string) *http.Client {
	return &http.Client{
		Transport:     h.roundTripper(id),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// browser is a user's browser: it keeps cookies and is driven one
// request at a time.
type browser struct {
	h  *harness
	hc *http.Client
}

func (h *harness) browser(id string) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(h.t, err)
	hc := h.client(id)
	hc.Jar = jar
	return &browser{h: h, hc: hc}
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a *answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "%s", a.body)
	return m
}

func (a *answer) location(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(a.header.Get("Location"))
	require.NoError(t, err)
	return u
}

func read(t *testing.T, resp *http.Response, err error) *answer {
	t.Helper()
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// must reads a response whole, for a call's two results.
func must(t *testing.T) func(*http.Response, error) *answer {
	return func(resp *http.Response, err error) *answer {
		t.Helper()
		return read(t, resp, err)
	}
}

func (b *browser) get(u string) *answer {
	b.h.t.Helper()
	resp, err := b.hc.Get(u)
	return read(b.h.t, resp, err)
}

func (b *browser) post(u string, form url.Values) *answer {
	b.h.t.Helper()
	resp, err := b.hc.PostForm(u, form)
	return read(b.h.t, resp, err)
}

// consentForm is what a consent page asks the browser to send.
type consentForm struct {
	action, request, csrf string
}

var (
	actionRe  = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	requestRe = regexp.MustCompile(`name="request" value="([^"]*)"`)
	csrfRe    = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
)

func parseConsent(t *testing.T, a *answer) consentForm {
	t.Helper()
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	find := func(re *regexp.Regexp) string {
		m := re.FindSubmatch(a.body)
		require.NotNil(t, m, "consent page lacks %s:\n%s", re, a.body)
		return html.UnescapeString(string(m[1]))
	}
	return consentForm{action: find(actionRe), request: find(requestRe), csrf: find(csrfRe)}
}

func (c consentForm) values(decision string) url.Values {
	return url.Values{"request": {c.request}, "csrf": {c.csrf}, "decision": {decision}}
}

// mcpClient is one registered MCP client in the middle of a flow.
type mcpClient struct {
	h        *harness
	tenant   string
	hc       *http.Client
	issuer   string
	resource string
	meta     map[string]any
	id       string
	redirect string
	verifier string
	state    string
}

// discover does what an MCP client does with a tenant's MCP URL: a bare
// request, the protected-resource metadata its 401 names, then the
// authorization server's metadata (RFC 8414 path insertion).
func (h *harness) discover(id string) *mcpClient {
	t := h.t
	t.Helper()
	c := &mcpClient{h: h, tenant: id, hc: h.client(id)}
	a := must(t)(c.hc.Get(h.base(id) + "/mcp"))
	require.Equal(t, http.StatusUnauthorized, a.status)
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(a.header.Get("WWW-Authenticate"))
	require.NotNil(t, m, a.header.Get("WWW-Authenticate"))
	a = must(t)(c.hc.Get(m[1]))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	prm := a.json(t)
	c.resource = prm["resource"].(string)
	servers := prm["authorization_servers"].([]any)
	require.Len(t, servers, 1)
	c.issuer = servers[0].(string)
	require.Equal(t, h.base(id), c.issuer)
	u, err := url.Parse(c.issuer)
	require.NoError(t, err)
	a = must(t)(c.hc.Get(u.Scheme + "://" + u.Host + oauthproxy.MetadataPath + strings.TrimSuffix(u.Path, "/")))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	c.meta = a.json(t)
	require.Equal(t, c.issuer, c.meta["issuer"])
	return c
}

// register registers the client with one loopback redirect URI.
func (c *mcpClient) register(name string) {
	t := c.h.t
	t.Helper()
	c.redirect = "http://127.0.0.1:53682/callback"
	a := c.postJSON(c.endpoint("registration_endpoint"), map[string]any{
		"client_name": name, "redirect_uris": []string{c.redirect},
		"grant_types": []string{"authorization_code", "refresh_token"},
	})
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	c.id = a.json(t)["client_id"].(string)
}

func (c *mcpClient) endpoint(name string) string {
	s, _ := c.meta[name].(string)
	require.NotEmpty(c.h.t, s, name)
	return s
}

func (c *mcpClient) postJSON(u string, v any) *answer {
	c.h.t.Helper()
	body, err := json.Marshal(v)
	require.NoError(c.h.t, err)
	resp, err := c.hc.Post(u, "application/json", strings.NewReader(string(body)))
	return read(c.h.t, resp, err)
}

func (c *mcpClient) postForm(u string, form url.Values) *answer {
	c.h.t.Helper()
	resp, err := c.hc.PostForm(u, form)
	return read(c.h.t, resp, err)
}

// authorizeURL starts a new authorization: new verifier, new state.
func (c *mcpClient) authorizeURL(extra ...string) string {
	c.verifier = oauth2.GenerateVerifier()
	c.state = oauth2.GenerateVerifier()[:20]
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.id},
		"redirect_uri":          {c.redirect},
		"state":                 {c.state},
		"code_challenge":        {challenge(c.verifier)},
		"code_challenge_method": {"S256"},
		"scope":                 {"openid"},
		"resource":              {c.resource},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return c.endpoint("authorization_endpoint") + "?" + q.Encode()
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// login runs the browser through consent (approve), the provider's
// automatic login and the callback, and returns the query the client's
// redirect URI receives.
func (c *mcpClient) login(b *browser) url.Values {
	t := c.h.t
	t.Helper()
	form := parseConsent(t, b.get(c.authorizeURL()))
	return c.approve(b, form)
}

// approve sends an approval and follows the browser to the client.
func (c *mcpClient) approve(b *browser, form consentForm) url.Values {
	t := c.h.t
	t.Helper()
	a := b.post(form.action, form.values("approve"))
	require.Equal(t, http.StatusSeeOther, a.status, "%s", a.body)
	return c.followToClient(b, a)
}

// followToClient follows redirects from a until one leads to the client's
// redirect URI, and returns that URI's query.
func (c *mcpClient) followToClient(b *browser, a *answer) url.Values {
	t := c.h.t
	t.Helper()
	for range 5 {
		require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, a.status, "%s", a.body)
		loc := a.location(t)
		if strings.HasPrefix(loc.String(), c.redirect) {
			return loc.Query()
		}
		a = b.get(loc.String())
	}
	t.Fatal("too many redirects")
	return nil
}

// redeem exchanges a code at the token endpoint.
func (c *mcpClient) redeem(code string) *answer {
	return c.postForm(c.endpoint("token_endpoint"), url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirect},
		"client_id": {c.id}, "code_verifier": {c.verifier}, "resource": {c.resource},
	})
}

func (c *mcpClient) refresh(rt string) *answer {
	return c.postForm(c.endpoint("token_endpoint"), url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.id},
	})
}

func (c *mcpClient) revoke(token string) *answer {
	return c.postForm(c.endpoint("revocation_endpoint"), url.Values{"token": {token}, "client_id": {c.id}})
}

// mcp calls /mcp with the token and returns the answer.
func (c *mcpClient) mcp(token string) *answer {
	t := c.h.t
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.resource, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.hc.Do(req)
	return read(t, resp, err)
}
