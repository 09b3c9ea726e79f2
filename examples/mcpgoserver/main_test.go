package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// TestWhoami runs the server with two tenants and mcp-go's own client: a
// session answers for its tenant and caller, and for no one else.
func TestWhoami(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ts := httptest.NewUnstartedServer(nil)
	a, err := newApp(config{
		PublicURL:    "http://" + ts.Listener.Addr().String(),
		AuthRequired: true,
		Tenancy: tenancy.Config{Redis: rdb, MultiTenant: true, Identification: tenancy.ByHeader,
			OIDC: oidcx.Config{InsecureAllowLoopback: true}}, // the test providers listen on 127.0.0.1
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ts.Config.Handler = a
	ts.Start()
	t.Cleanup(ts.Close)
	t.Cleanup(a.Close)
	idp := map[string]*oidctest.Server{}
	for _, id := range []string{"acme", "globex"} {
		idp[id] = oidctest.New(t)
		_, err := a.svc.Store().Tenants().Create(t.Context(), &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive,
			OIDC: idp[id].OIDC("aud-" + id)})
		require.NoError(t, err)
	}
	token := func(id, sub string) string { return idp[id].Token(idp[id].Claims("aud-"+id, sub)) }

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.NewStreamableHttpClient(ts.URL+"/mcp", transport.WithHTTPHeaders(map[string]string{
		"Authorization": "Bearer " + token("acme", "alice"), "X-Tenant-ID": "acme"}))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Start(ctx))
	_, err = c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: "2025-06-18", ClientInfo: mcp.Implementation{Name: "test", Version: "1"}}})
	require.NoError(t, err)
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "whoami"}})
	require.NoError(t, err)
	out, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	assert.JSONEq(t, `{"tenant":"acme","subject":"alice"}`, string(out))
	session := c.GetSessionId()
	require.NotEmpty(t, session)

	post := func(tenantID, tok string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/mcp",
			strings.NewReader(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("X-Tenant-ID", tenantID)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Mcp-Session-Id", session)
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	status, body := post("globex", token("globex", "bob"))
	assert.Equal(t, http.StatusNotFound, status, "acme's session on globex: %s", body)
	status, body = post("acme", token("acme", "carol"))
	assert.Equal(t, http.StatusNotFound, status, "alice's session used by carol: %s", body)
	status, body = post("acme", token("acme", "alice"))
	assert.Equal(t, http.StatusOK, status, body)
}

func TestConfigFrom(t *testing.T) {
	env := map[string]string{"AUTH_REQUIRED": "false"}
	c, err := configFrom(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8081", c.ListenAddr)
	assert.Equal(t, "http://127.0.0.1:8081", c.PublicURL)
	assert.False(t, c.AuthRequired)
	env["AUTH_REQUIRED"] = "maybe"
	_, err = configFrom(func(k string) string { return env[k] })
	assert.ErrorContains(t, err, "AUTH_REQUIRED")
}
