package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// miniBackend returns a fresh miniredis and a client of it.
func miniBackend(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, m
}

func TestHealthz(t *testing.T) {
	rdb, mini := miniBackend(t)
	h := start(t, rdb, mini, config{})
	get := func() answer { return h.do(h.request(http.MethodGet, "", h.public+"/healthz", nil)) }
	a := get()
	assert.Equal(t, http.StatusOK, a.status)
	assert.JSONEq(t, `{"status":"ok"}`, string(a.body))
	mini.Close()
	a = get()
	assert.Equal(t, http.StatusServiceUnavailable, a.status)
	assert.JSONEq(t, `{"status":"unavailable"}`, string(a.body))
}

// TestSingleTenant runs the default mode, configured the way an existing
// deployment is: every request is tenant "default", whose provider comes
// from OIDC_ISSUER and OIDC_AUDIENCE and whose upstream client, for its
// OAuth authorization server, from OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET
// (kept sealed with TENANT_ENCRYPTION_KEY).
func TestSingleTenant(t *testing.T) {
	idp := oidctest.New(t)
	t.Setenv("MULTI_TENANT_ENABLED", "")
	t.Setenv("OIDC_ISSUER", idp.Issuer())
	t.Setenv("OIDC_AUDIENCE", "seed")
	t.Setenv("OAUTH_CLIENT_ID", "seed-proxy")
	t.Setenv("OAUTH_CLIENT_SECRET", "seed-upstream-secret")
	t.Setenv("TENANT_ENCRYPTION_KEY", "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=")
	t.Setenv("OIDC_INSECURE_ALLOW_LOOPBACK", "true") // the test provider listens on 127.0.0.1
	cfg, err := configFromEnv()
	require.NoError(t, err)
	require.True(t, cfg.Tenancy.OIDC.InsecureAllowLoopback)
	require.True(t, cfg.AuthRequired, "AUTH_REQUIRED defaults to true")
	rdb, mini := miniBackend(t)
	h := start(t, rdb, mini, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = h.connect(ctx, "", "")
	require.Error(t, err, "no token, no session")
	cs, err := h.connect(ctx, "", idp.Token(idp.Claims("seed", "carol")))
	require.NoError(t, err)
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	out, _ := json.Marshal(res.StructuredContent)
	assert.JSONEq(t, `{"tenant":"default","subject":"carol"}`, string(out))

	a := h.do(h.request(http.MethodGet, "", h.public+"/.well-known/oauth-protected-resource", nil))
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, h.public+"/mcp", a.json(t)["resource"])
	assert.Equal(t, []any{h.public}, a.json(t)["authorization_servers"], "the server is the authorization server")

	// A real MCP client logs in through it at the provider.
	idp.RegisterClient(oidctest.Client{ID: "seed-proxy", Secret: "seed-upstream-secret", Audience: "seed",
		RedirectURIs: []string{h.public + "/oauth/callback"}})
	idp.SetSubject("dave")
	mcpLogin(t, h, "default", idp, "dave")
	assert.NotEmpty(t, h.keys("tenant:{default}:client:*"))

	a = h.admin(http.MethodGet, "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, a.status, "no TENANT_ADMIN_API_KEY: the admin API is closed")
}

// TestHostGuard checks the replacement of the SDK's DNS rebinding
// protection: the tenants' hosts pass, a foreign name on a loopback
// connection does not.
func TestHostGuard(t *testing.T) {
	rdb, mini := miniBackend(t)
	h := start(t, rdb, mini, config{AuthRequired: false, Tenancy: tenancy.Config{MultiTenant: true, AdminAPIKey: adminKey}})
	require.Equal(t, http.StatusCreated, h.admin(http.MethodPost, "", map[string]any{"id": "acme", "name": "ACME", "domain": "mcp.acme.example"}).status)
	for _, tc := range []struct {
		host string
		want int
	}{
		{"acme.localhost:" + h.port, http.StatusOK},
		{"ACME.localhost.:" + h.port, http.StatusOK},
		{"mcp.acme.example", http.StatusOK},               // the tenant's custom domain
		{"evil.example:" + h.port, http.StatusBadRequest}, // no tenant: refused before /mcp
	} {
		req := h.request(http.MethodPost, "", h.public+"/mcp", initialize, "Accept", "application/json, text/event-stream")
		req.Host = tc.host
		a := h.do(req)
		assert.Equal(t, tc.want, a.status, "%s: %s", tc.host, a.body)
	}

	// A name the operator does not control, resolving to a tenant (a
	// DNS rebinding of a trusted proxy's forwarded host would look like
	// this), is refused by the guard itself.
	r := h.request(http.MethodPost, "", "/mcp", initialize)
	r.Host = "evil.example"
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}))
	assert.False(t, allowedHosts(config{PublicURL: h.public}, h.srv.svc.Config()).Allowed(r))
	r.Host = "127.0.0.1:" + h.port
	assert.True(t, allowedHosts(config{PublicURL: h.public}, h.srv.svc.Config()).Allowed(r))
	r = r.WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 80}))
	r.Host = "evil.example"
	assert.True(t, allowedHosts(config{PublicURL: h.public}, h.srv.svc.Config()).Allowed(r), "only loopback connections are checked, as in the SDK")
}

// TestPathModeMetadata checks the routing of the path-mode metadata URL,
// whose first segment is not the tenant: its answers are the tenant
// middleware's.
func TestPathModeMetadata(t *testing.T) {
	rdb, mini := miniBackend(t)
	h := start(t, rdb, mini, config{Tenancy: tenancy.Config{MultiTenant: true, Identification: tenancy.ByPath, AdminAPIKey: adminKey}})
	require.Equal(t, http.StatusCreated, h.admin(http.MethodPost, "", map[string]any{"id": "acme", "name": "ACME"}).status)
	for _, tc := range []struct {
		path string
		want int
		body string
	}{
		{"/.well-known/oauth-protected-resource/acme/mcp", http.StatusOK, ""},
		{"/.well-known/oauth-protected-resource/globex/mcp", http.StatusNotFound, `{"error":"Tenant not found or inactive"}`},
		{"/.well-known/oauth-protected-resource/%61cme/mcp", http.StatusBadRequest, `{"error":"Invalid tenant identifier"}`},
		{"/.well-known/oauth-protected-resource/ac%2Fme/mcp", http.StatusBadRequest, `{"error":"Invalid tenant identifier"}`},
		{"/.well-known/oauth-protected-resource/ACME/mcp", http.StatusBadRequest, `{"error":"Invalid tenant identifier"}`},
		{"/.well-known/oauth-protected-resource/acme/other", http.StatusNotFound, `{"error":"Not found"}`},
		{"/.well-known/oauth-protected-resource/acme/x/mcp", http.StatusNotFound, `{"error":"Not found"}`},
		// The metadata has one URL in path mode.
		{"/acme/.well-known/oauth-protected-resource", http.StatusNotFound, `{"error":"not_found"}`},
	} {
		a := h.do(h.request(http.MethodGet, "", h.public+tc.path, nil))
		assert.Equal(t, tc.want, a.status, tc.path)
		if tc.body != "" {
			assert.JSONEq(t, tc.body, string(a.body), tc.path)
		} else {
			assert.Equal(t, h.public+"/acme/mcp", a.json(t)["resource"])
		}
	}
}

// TestConfigFromEnv checks the defaults and that each malformed variable
// is named.
func TestConfigFromEnv(t *testing.T) {
	for _, name := range []string{"LISTEN_ADDR", "PUBLIC_URL", "REDIS_URL", "AUTH_REQUIRED", "MULTI_TENANT_ENABLED", "TENANT_IDENTIFICATION",
		"OIDC_INSECURE_ALLOW_LOOPBACK"} {
		t.Setenv(name, "")
	}
	cfg, err := configFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", cfg.ListenAddr)
	assert.Equal(t, "http://127.0.0.1:8080", cfg.PublicURL)
	assert.True(t, cfg.AuthRequired)
	assert.False(t, cfg.Tenancy.MultiTenant)
	assert.False(t, cfg.Tenancy.OIDC.InsecureAllowLoopback, "loopback providers only when asked for")

	t.Setenv("LISTEN_ADDR", ":9090")
	cfg, err = configFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:9090", cfg.PublicURL)

	for name, value := range map[string]string{
		"LISTEN_ADDR":                  "nope",
		"PUBLIC_URL":                   "ftp://example.com",
		"AUTH_REQUIRED":                "maybe",
		"MULTI_TENANT_ENABLED":         "perhaps",
		"TENANT_IDENTIFICATION":        "cookie",
		"DCR_CLIENT_TTL":               "forever",
		"OIDC_INSECURE_ALLOW_LOOPBACK": "sometimes",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := configFromEnv()
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
		})
	}

	t.Run("PUBLIC_URL with a password", func(t *testing.T) {
		t.Setenv("PUBLIC_URL", "https://user:s3cret@seed.example.com")
		_, err := configFromEnv()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "PUBLIC_URL")
		assert.NotContains(t, err.Error(), "s3cret", "the password it refuses is not printed")
	})

	t.Setenv("REDIS_URL", "http://not-redis")
	cfg, err = configFromEnv()
	require.NoError(t, err)
	_, err = newServer(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "REDIS_URL")
}

// TestRun starts the command as main does, with an MCP client holding an
// open event stream, and stops it as SIGINT would.
func TestRun(t *testing.T) {
	t.Setenv("LISTEN_ADDR", "127.0.0.1:0")
	t.Setenv("REDIS_URL", "")
	t.Setenv("MULTI_TENANT_ENABLED", "false")
	t.Setenv("AUTH_REQUIRED", "false")
	t.Setenv("OIDC_ISSUER", "")
	t.Setenv("OIDC_AUDIENCE", "")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs testlog.Buffer
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, &logs, ready) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	assert.Contains(t, logs.String(), "REDIS_URL is unset: using an embedded Redis", "it says so on start")

	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "run", Version: "1"}, nil)
	cs, err := c.Connect(cctx, &mcp.StreamableClientTransport{Endpoint: "http://" + addr.String() + "/mcp", MaxRetries: -1}, nil)
	require.NoError(t, err)
	defer cs.Close()
	res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	out, _ := json.Marshal(res.StructuredContent)
	assert.JSONEq(t, `{"tenant":"default","subject":""}`, string(out))

	begin := time.Now()
	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(shutdownTimeout):
		t.Fatal("run did not return after its context ended")
	}
	assert.Less(t, time.Since(begin), 5*time.Second, "open MCP streams must not hold the shutdown")
	assert.Contains(t, logs.String(), "shutting down")
}

// TestCloseWaitsForSessions checks that closing the server while the
// HTTP server's shutdown is still ending the MCP sessions (a second
// closeSessions, as run's deferred Close is after Shutdown returned)
// returns only once every session is freed in the store: the Redis client
// closes right after, and a session it did not free would count against
// its tenant's maxSessions for its whole lifetime.
func TestCloseWaitsForSessions(t *testing.T) {
	rdb, mini := miniBackend(t)
	h := start(t, rdb, mini, config{Tenancy: tenancy.Config{MultiTenant: true, Identification: tenancy.ByHeader, AdminAPIKey: adminKey}})
	// Anonymous callers of a tenant hold at most 16 sessions between them.
	for i := range 20 {
		id := fmt.Sprintf("t%d", i)
		require.Equal(t, http.StatusCreated, h.admin(http.MethodPost, "", map[string]any{"id": id, "name": "T"}).status)
		for range 16 {
			require.Equal(t, http.StatusOK, h.mcpPost(id, "", "", initialize).status)
		}
	}
	count := func() (n int) {
		for _, k := range mini.Keys() {
			if strings.Contains(k, ":session:") {
				n++
			}
		}
		return n
	}
	require.Equal(t, 20*16, count())

	started := make(chan struct{})
	go func() {
		close(started)
		h.srv.closeSessions() // as Shutdown's RegisterOnShutdown does
	}()
	<-started
	time.Sleep(time.Millisecond)
	h.srv.closeSessions()
	assert.Zero(t, count(), "every session was freed when it returned")
}

// TestSessionLifetime checks that the SDK's sessions follow the guard: a
// session idle past its lifetime is 404, closed in the SDK and gone from
// the store, and the deletion of a tenant closes its sessions.
func TestSessionLifetime(t *testing.T) {
	clock := testclock.New(time.Now())
	sessionClock = clock.Now
	t.Cleanup(func() { sessionClock = time.Now })
	rdb, mini := miniBackend(t)
	h := start(t, rdb, mini, config{Tenancy: tenancy.Config{MultiTenant: true, Identification: tenancy.ByHeader, AdminAPIKey: adminKey, SessionTTL: time.Hour}})
	require.Equal(t, http.StatusCreated, h.admin(http.MethodPost, "", map[string]any{"id": "acme", "name": "ACME"}).status)
	open := func() string {
		a := h.mcpPost("acme", "", "", initialize)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		id := a.header.Get(sessionHeader)
		require.NotEmpty(t, id)
		return id
	}

	id := open()
	assert.Equal(t, 1, h.srv.mcp.Len())
	assert.True(t, h.srv.mcp.Holds(id))
	assert.NotEmpty(t, h.keys("tenant:{acme}:session:"+id))
	mini.FastForward(2 * time.Hour)
	clock.Advance(2 * time.Hour)
	a := h.mcpPost("acme", "", id, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	assert.Equal(t, http.StatusNotFound, a.status)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}`, string(a.body))
	assert.Eventually(t, func() bool { return !h.srv.mcp.Holds(id) }, 5*time.Second, 10*time.Millisecond, "the SDK's session is closed")
	assert.Zero(t, h.srv.mcp.Len())

	id = open()
	assert.Equal(t, 1, h.srv.mcp.Len())
	require.Equal(t, http.StatusOK, h.admin(http.MethodDelete, "/acme", nil).status)
	assert.Eventually(t, func() bool { return !h.srv.mcp.Holds(id) }, 5*time.Second, 10*time.Millisecond, "a deleted tenant's sessions are closed")
	assert.Zero(t, h.srv.mcp.Len())
	assert.Empty(t, h.keys("tenant:{acme}:*"), "closing them recreates no key")
}

// TestShutdownFreesSessions checks that closing the server frees every
// MCP session in the store before it closes its Redis client, and logs no
// failure about a closed client.
func TestShutdownFreesSessions(t *testing.T) {
	mini := miniredis.RunT(t)
	var logs testlog.Buffer
	srv, err := newServer(config{
		RedisURL:  "redis://" + mini.Addr(),
		PublicURL: "http://127.0.0.1:8080",
		Tenancy:   tenancy.Config{MultiTenant: true, Identification: tenancy.ByHeader},
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	_, err = srv.svc.Store().Tenants().Create(t.Context(), &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for range 3 {
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/mcp", strings.NewReader(initialize))
		require.NoError(t, err)
		req.Header.Set("X-Tenant-ID", "acme")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	require.Len(t, mini.Keys(), 7, "the tenant, the index, the session set and owners index, three sessions")
	srv.Close()
	for _, k := range mini.Keys() {
		assert.NotContains(t, k, ":session", "every session was freed")
	}
	assert.NotContains(t, logs.String(), "closed")
	assert.NotContains(t, logs.String(), "level=ERROR")
	assert.NotContains(t, logs.String(), "level=WARN")
}

// TestEmbeddedRedisNeedsPassword checks that the embedded Redis, which
// listens on a loopback port, answers only the server: any other local
// process could otherwise read and change every tenant's data.
func TestEmbeddedRedisNeedsPassword(t *testing.T) {
	var logs testlog.Buffer
	srv, err := newServer(config{
		PublicURL: "http://127.0.0.1:8080",
		Tenancy:   tenancy.Config{MultiTenant: true, Identification: tenancy.ByHeader},
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.rdb.Ping(t.Context()).Err(), "the server's own client is let in")
	c, ok := srv.rdb.(*redis.Client)
	require.True(t, ok)
	opts := c.Options()
	other := redis.NewClient(&redis.Options{Addr: opts.Addr, MaxRetries: -1})
	defer other.Close()
	err = other.Ping(t.Context()).Err()
	require.Error(t, err, "a client without the password is refused")
	assert.Contains(t, err.Error(), "NOAUTH")
	assert.NotContains(t, logs.String(), opts.Password, "the password is never logged")
}
