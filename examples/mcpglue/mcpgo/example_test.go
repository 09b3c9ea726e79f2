package mcpgo_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/examples/mcpglue"
	"github.com/seedmcp/tenancy/examples/mcpglue/mcpgo"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// Example is the wiring of the README: mcp-go behind the tenant
// middleware, the tenant's bearer check and the session guard. A session
// of acme answers for acme's caller only.
func Example() {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	idp := oidctest.NewServer() // the tenants' identity provider
	defer idp.Close()
	cfg := tenancy.Config{
		Redis:          redis.NewClient(&redis.Options{Addr: m.Addr()}),
		MultiTenant:    true,
		Identification: tenancy.ByHeader,
		OIDC:           oidcx.Config{InsecureAllowLoopback: true}, // the test provider listens on 127.0.0.1
		Logger:         slog.New(slog.DiscardHandler),
	}
	defer cfg.Redis.Close()
	svc, err := tenancy.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	urls, _ := svc.URLs("https://seed.example.com")
	bearer, _ := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls, Logger: cfg.Logger})
	mux := http.NewServeMux()

	s := server.NewMCPServer("seed", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t, _ := tenant.FromContext(ctx) // the request's tenant
		subject := ""
		if claims, ok := oidcx.ClaimsFromContext(ctx); ok { // the request's caller; none when anonymous
			subject = claims.Subject
		}
		return mcp.NewToolResultStructuredOnly(map[string]string{"tenant": t.ID, "subject": subject}), nil
	})
	mcpHandler, err := mcpgo.New(s, mcpgo.Config{
		Guard: mcpsession.Config{
			Sessions: svc.Store().Sessions(),
			Tenants:  svc.Store().Tenants(),
			TTL:      svc.Config().SessionTTL,
		},
		Hosts: mcpglue.Hosts{Public: []string{"seed.example.com"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	svc.OnEvent(mcpHandler.HandleEvent)          // a suspended or deleted tenant's sessions end
	defer mcpHandler.Close(context.Background()) // frees every session, before the Redis client closes
	mux.Handle("/mcp", svc.Middleware(bearer(mcpHandler)))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, id := range []string{"acme", "globex"} {
		_, err = svc.Store().Tenants().Create(context.Background(), &tenant.Tenant{
			ID: id, Name: id, Status: tenant.StatusActive, OIDC: idp.OIDC("aud-" + id),
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	post := func(tenantID, subject, session, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("X-Tenant-ID", tenantID)
		req.Header.Set("Authorization", "Bearer "+idp.Token(idp.Claims("aud-"+tenantID, subject)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}
	resp := post("acme", "alice", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"example","version":"1"}}}`)
	resp.Body.Close()
	session := resp.Header.Get("Mcp-Session-Id")
	post("acme", "alice", session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
	for _, c := range []struct{ tenant, subject string }{{"acme", "alice"}, {"acme", "carol"}, {"globex", "bob"}} {
		resp := post(c.tenant, c.subject, session, call)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		found := "no result"
		if i := strings.Index(string(body), `"structuredContent":`); i >= 0 {
			found = strings.SplitN(string(body[i:]), "}", 2)[0] + "}"
		}
		fmt.Println(c.tenant, c.subject, resp.StatusCode, found)
	}
	// Output:
	// acme alice 200 "structuredContent":{"subject":"alice","tenant":"acme"}
	// acme carol 404 no result
	// globex bob 404 no result
}
