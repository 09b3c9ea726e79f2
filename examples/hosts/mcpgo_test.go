package hosts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/examples/mcpglue/mcpgo"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// newMCPGoServer is the host's own MCP server: one tool that names the
// request's tenant and caller.
func newMCPGoServer() *server.MCPServer {
	s := server.NewMCPServer("hosts", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t, _ := tenant.FromContext(ctx)
		subject := ""
		if claims, ok := oidcx.ClaimsFromContext(ctx); ok {
			subject = claims.Subject
		}
		return mcp.NewToolResultStructuredOnly(map[string]string{"tenant": t.ID, "subject": subject}), nil
	})
	return s
}

// glue begins: mcpgo

// newMCPGoHost serves s at /mcp to the tenant the X-Tenant-ID header names,
// behind the tenant middleware, each tenant's bearer check and the session
// guard, with each tenant's metadata beside it. Close the returned handler
// before the store.
func newMCPGoHost(svc *tenancy.Service, s *server.MCPServer, publicURL string) (http.Handler, *mcpgo.Handler, error) {
	urls, err := svc.URLs(publicURL)
	if err != nil {
		return nil, nil, err
	}
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls})
	if err != nil {
		return nil, nil, err
	}
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
	if err != nil {
		return nil, nil, err
	}
	mcpHandler, err := mcpgo.New(s, mcpgo.Config{Guard: mcpsession.Config{
		Sessions: svc.Store().Sessions(),
		Tenants:  svc.Store().Tenants(),
		TTL:      svc.Config().SessionTTL,
	}})
	if err != nil {
		return nil, nil, err
	}
	svc.OnEvent(mcpHandler.HandleEvent) // a suspended or deleted tenant's sessions end
	mux := http.NewServeMux()
	mux.Handle(svc.MetadataRoute(meta))
	mux.Handle("/mcp", svc.Middleware(bearer(mcpHandler)))
	return mux, mcpHandler, nil
}

// glue ends: mcpgo

func TestMCPGoHost(t *testing.T) {
	ctx := t.Context()
	idp := oidctest.New(t)
	svc, err := tenancy.New(tenancy.Config{
		Store:          memstore.New(memstore.Config{}).Backend(),
		MultiTenant:    true,
		Identification: tenancy.ByHeader, // X-Tenant-ID
		OIDC:           oidcx.Config{InsecureAllowLoopback: true},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	for _, tn := range []tenant.Tenant{
		{ID: "acme", Name: "ACME", Status: tenant.StatusActive, OIDC: idp.OIDC("api-acme"), Limits: tenant.Limits{MaxSessions: 1}},
		{ID: "globex", Name: "Globex", Status: tenant.StatusActive, OIDC: idp.OIDC("api-globex")},
	} {
		_, err := svc.Store().Tenants().Create(ctx, &tn)
		require.NoError(t, err)
	}
	require.NoError(t, svc.Sync(ctx))

	srv := httptest.NewUnstartedServer(nil)
	h, mcpHandler, err := newMCPGoHost(svc, newMCPGoServer(), "http://"+srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = mcpHandler.Close(context.Background()) })
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	endpoint := srv.URL + "/mcp"
	alice := callerClient(srv, idp.Token(idp.Claims("api-acme", "alice")))
	bob := callerClient(srv, idp.Token(idp.Claims("api-globex", "bob")))

	// alice opens a session with acme and calls its tool.
	code, session := open(t, alice, endpoint, "X-Tenant-ID", "acme")
	require.Equal(t, http.StatusOK, code)
	require.NotEmpty(t, session)
	code, _ = rpc(t, alice, endpoint, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "X-Tenant-ID", "acme")
	require.Equal(t, http.StatusAccepted, code)
	code, body := rpc(t, alice, endpoint, session, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`, "X-Tenant-ID", "acme")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"structuredContent":{"subject":"alice","tenant":"acme"}`)

	// acme holds at most one session.
	code, body = rpc(t, alice, endpoint, "", initialize, "X-Tenant-ID", "acme")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, `"code":-32000`)

	// The session is acme's, and acme's token is acme's.
	code, _ = rpc(t, bob, endpoint, session, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, "X-Tenant-ID", "globex")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = rpc(t, alice, endpoint, "", initialize, "X-Tenant-ID", "globex")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = open(t, bob, endpoint, "X-Tenant-ID", "globex")
	assert.Equal(t, http.StatusOK, code)

	// The tenant header: missing, unknown.
	code, body = rpc(t, alice, endpoint, "", initialize)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.JSONEq(t, `{"error":"Missing tenant identifier"}`, body)
	code, unknown := rpc(t, alice, endpoint, "", initialize, "X-Tenant-ID", "initech")
	assert.Equal(t, http.StatusNotFound, code)
	assert.JSONEq(t, `{"error":"Tenant not found or inactive"}`, unknown)

	// Suspended in the store, acme is refused once the event is applied
	// (Sync), and the guard frees its session's place.
	tn, err := svc.Store().Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	tn.Status = tenant.StatusSuspended
	_, err = svc.Store().Tenants().Update(ctx, tn)
	require.NoError(t, err)
	require.NoError(t, svc.Sync(ctx))
	code, body = rpc(t, alice, endpoint, session, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`, "X-Tenant-ID", "acme")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, unknown, body)
	assert.Eventually(t, func() bool {
		_, err := svc.Store().Sessions().Get(ctx, "acme", session)
		return errors.Is(err, store.ErrNotFound)
	}, 10*time.Second, 10*time.Millisecond, "the session's place is freed")
	code, _ = open(t, bob, endpoint, "X-Tenant-ID", "globex")
	assert.Equal(t, http.StatusOK, code, "globex goes on")
}

// open sends an initialize request and returns the status and the session
// ID the server gave.
func open(t *testing.T, hc *http.Client, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(initialize))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id")
}
