package hosts_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/examples/mcpglue"
	"github.com/seedmcp/tenancy/examples/mcpglue/gosdk"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// newGoSDKServer is the host's own MCP server: one tool that names the
// session's tenant and the request's caller.
func newGoSDKServer() *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "hosts", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, map[string]string, error) {
		t, _ := tenant.FromContext(ctx)
		subject := ""
		if ti := req.Extra.TokenInfo; ti != nil {
			subject = ti.UserID
		}
		return nil, map[string]string{"tenant": t.ID, "subject": subject}, nil
	})
	return server
}

// glue begins: gosdk

// newGoSDKHost serves server at <tenant>.<base domain>/mcp behind the
// tenant middleware, each tenant's bearer check and the session guard,
// with the admin API and each tenant's metadata beside it. close frees
// every session; call it before the Redis client is closed.
func newGoSDKHost(svc *tenancy.Service, server *mcp.Server, publicURL string) (h http.Handler, close func(), err error) {
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
	mcpHandler, err := gosdk.New(server, gosdk.Config{
		Guard: mcpsession.Config{
			Sessions: svc.Store().Sessions(),
			Tenants:  svc.Store().Tenants(),
			TTL:      svc.Config().SessionTTL,
		},
		Hosts: mcpglue.Hosts{BaseDomain: svc.Config().BaseDomain},
	})
	if err != nil {
		return nil, nil, err
	}
	svc.OnEvent(mcpHandler.HandleEvent) // a suspended or deleted tenant's sessions end
	mux := http.NewServeMux()
	mux.Handle("/admin/", svc.Admin())
	mux.Handle(svc.MetadataRoute(meta))
	mux.Handle("/mcp", svc.Middleware(bearer(mcpHandler)))
	return mux, func() { _ = mcpHandler.Close(context.Background()) }, nil
}

// glue ends: gosdk

// redisBackends returns miniredis, and the real Redis when
// TENANCY_REDIS_ADDR names one (emptied, and locked for the test).
func redisBackends(t *testing.T) map[string]func(t *testing.T) redis.UniversalClient {
	bs := map[string]func(t *testing.T) redis.UniversalClient{
		"miniredis": func(t *testing.T) redis.UniversalClient {
			rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			t.Cleanup(func() { _ = rdb.Close() })
			return rdb
		},
	}
	if _, ok := testredis.LookupAddr(t); ok {
		bs["redis"] = func(t *testing.T) redis.UniversalClient { return testredis.Standalone(t) }
	} else {
		t.Logf("%s not set: the real-Redis case is skipped", testredis.EnvAddr)
	}
	return bs
}

func TestGoSDKHost(t *testing.T) {
	for name, open := range redisBackends(t) {
		t.Run(name, func(t *testing.T) { testGoSDKHost(t, open(t)) })
	}
}

func testGoSDKHost(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	idp := oidctest.New(t)
	svc, err := tenancy.New(tenancy.Config{
		Redis:       rdb,
		MultiTenant: true, // subdomain mode under "localhost"
		OIDC:        oidcx.Config{InsecureAllowLoopback: true},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	for _, id := range []string{"acme", "globex"} {
		_, err := svc.Store().Tenants().Create(ctx, &tenant.Tenant{
			ID: id, Name: id, Status: tenant.StatusActive, OIDC: idp.OIDC("api-" + id),
		})
		require.NoError(t, err)
	}
	require.NoError(t, svc.Sync(ctx))

	srv := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	h, closeMCP, err := newGoSDKHost(svc, newGoSDKServer(), "http://localhost:"+port)
	require.NoError(t, err)
	t.Cleanup(closeMCP) // runs before svc.Close and the Redis client's
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	base := func(id string) string { return "http://" + id + ".localhost:" + port }

	acme := callerClient(srv, idp.Token(idp.Claims("api-acme", "alice")))
	globex := callerClient(srv, idp.Token(idp.Claims("api-globex", "bob")))

	// alice opens a session with acme and calls its tool.
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base("acme") + "/mcp", HTTPClient: acme, DisableStandaloneSSE: true}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"tenant": "acme", "subject": "alice"}, res.StructuredContent)
	_, err = svc.Store().Sessions().Get(ctx, "acme", cs.ID())
	require.NoError(t, err, "the session is recorded in acme's store")

	// The session is acme's: globex, even with a valid token of its own,
	// does not know it; and acme's token is no good on globex.
	code, _ := rpc(t, globex, base("globex")+"/mcp", cs.ID(), `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`)
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = rpc(t, acme, base("globex")+"/mcp", "", initialize)
	assert.Equal(t, http.StatusUnauthorized, code)
	code, body := rpc(t, globex, base("globex")+"/mcp", "", initialize)
	assert.Equal(t, http.StatusOK, code, body)

	// An unknown tenant, and the metadata of a known one.
	code, unknown := rpc(t, acme, base("initech")+"/mcp", "", initialize)
	assert.Equal(t, http.StatusNotFound, code)
	assert.JSONEq(t, `{"error":"Tenant not found or inactive"}`, unknown)
	resp, err := acme.Get(base("acme") + oidcx.WellKnownPath)
	require.NoError(t, err)
	metaBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(metaBody))
	assert.Contains(t, string(metaBody), `"resource":"`+base("acme")+`/mcp"`)

	// Suspended in the store, acme is refused once the event is applied
	// (Sync), exactly as an unknown tenant, and its session is over.
	tn, err := svc.Store().Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	tn.Status = tenant.StatusSuspended
	_, err = svc.Store().Tenants().Update(ctx, tn)
	require.NoError(t, err)
	require.NoError(t, svc.Sync(ctx))
	code, body = rpc(t, acme, base("acme")+"/mcp", "", initialize)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, unknown, body)
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	assert.Error(t, err, "the suspended tenant's session is refused")
	// The guard, told by the event, ends the session and frees its place
	// (in the background: it reads the tenant first).
	assert.Eventually(t, func() bool {
		_, err := svc.Store().Sessions().Get(ctx, "acme", cs.ID())
		return errors.Is(err, store.ErrNotFound)
	}, 10*time.Second, 10*time.Millisecond, "the session's place is freed")
	code, _ = rpc(t, globex, base("globex")+"/mcp", "", initialize)
	assert.Equal(t, http.StatusOK, code, "globex goes on")
}
