// Package tenancy makes an existing net/http server multi-tenant. It finds
// the tenant of every request (by subdomain or custom domain, path, header,
// or the issuer and audience of its bearer token), validates it through an
// in-process cache in front of Redis (or any store of package store, such
// as the in-memory memstore), keeps each tenant's data in its own Redis
// namespace, applies each tenant's rate limit, verifies bearer tokens
// against the tenant's own identity provider, gives each tenant an OAuth
// authorization server in front of that provider ([Service.OAuthProxy]),
// counts each tenant's usage per day and keeps its audit trail, and serves
// an admin API for the tenants, guarded by operator keys and tenant keys.
//
// The whole wiring, configured from the environment (each field of [Config]
// names the variable that sets it):
//
//	cfg, err := tenancy.ConfigFromEnv()
//	if err != nil {
//		log.Fatal(err)
//	}
//	cfg.Redis = redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	svc, err := tenancy.New(cfg)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer svc.Close()
//
//	urls, _ := svc.URLs("https://seed.example.com")
//	bearer, _ := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls})
//	meta, _ := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
//	mux := http.NewServeMux()
//	mux.Handle("/admin/", svc.Admin())
//	mux.Handle(svc.MetadataRoute(meta))
//	mux.Handle("/mcp", svc.Middleware(bearer(mcpHandler))) // mcpHandler: see below
//
// Behind the middleware, [tenant.FromContext] returns the request's tenant
// and oidcx.ClaimsFromContext the token's claims; [Service.Store] holds the
// tenant's clients, sessions and limits. Package migrate moves a single-tenant
// deployment's keys into tenant "default". The parts are usable alone:
// package resolve finds tenant identifiers, package middleware holds the
// cache and the middleware, package oidcx the per-tenant token checks, and
// package store and its sub-packages the data.
//
// # MCP sessions
//
// An MCP SDK keeps one session table for the whole process and finds a
// session by its Mcp-Session-Id alone, so an SDK's handler goes behind the
// session guard of package mcpsession, which serves a session only to the
// tenant and the caller that opened it, enforces maxSessions and a
// per-caller limit, and ends sessions that are deleted, idle, or whose
// tenant is suspended or deleted. The glue each SDK needs is in the
// examples module (the library requires no SDK). With the official Go SDK
// (examples/mcpglue/gosdk):
//
//	server := mcp.NewServer(&mcp.Implementation{Name: "seed", Version: "1.0.0"}, nil)
//	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, map[string]string, error) {
//		t, _ := tenant.FromContext(ctx) // the session's tenant, which is the request's
//		subject := ""
//		if ti := req.Extra.TokenInfo; ti != nil { // the request's caller; nil when anonymous
//			subject = ti.UserID
//		}
//		return nil, map[string]string{"tenant": t.ID, "subject": subject}, nil
//	})
//	mcpHandler, err := gosdk.New(server, gosdk.Config{
//		Guard: mcpsession.Config{
//			Sessions: svc.Store().Sessions(),
//			Tenants:  svc.Store().Tenants(),
//			TTL:      svc.Config().SessionTTL,
//		},
//		Hosts: mcpglue.Hosts{Public: []string{"seed.example.com"}},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	svc.OnEvent(mcpHandler.HandleEvent)          // a suspended or deleted tenant's sessions end
//	defer mcpHandler.Close(context.Background()) // frees every session, before the Redis client closes
//	mux.Handle("/mcp", svc.Middleware(bearer(mcpHandler)))
//
// With github.com/mark3labs/mcp-go (examples/mcpglue/mcpgo):
//
//	s := server.NewMCPServer("seed", "1.0.0", server.WithToolCapabilities(false))
//	s.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
//		t, _ := tenant.FromContext(ctx) // the request's tenant
//		subject := ""
//		if claims, ok := oidcx.ClaimsFromContext(ctx); ok { // the request's caller; none when anonymous
//			subject = claims.Subject
//		}
//		return mcp.NewToolResultStructuredOnly(map[string]string{"tenant": t.ID, "subject": subject}), nil
//	})
//	mcpHandler, err := mcpgo.New(s, mcpgo.Config{
//		Guard: mcpsession.Config{
//			Sessions: svc.Store().Sessions(),
//			Tenants:  svc.Store().Tenants(),
//			TTL:      svc.Config().SessionTTL,
//		},
//		Hosts: mcpglue.Hosts{Public: []string{"seed.example.com"}},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	svc.OnEvent(mcpHandler.HandleEvent)          // a suspended or deleted tenant's sessions end
//	defer mcpHandler.Close(context.Background()) // frees every session, before the Redis client closes
//	mux.Handle("/mcp", svc.Middleware(bearer(mcpHandler)))
//
// What a tool may read: mcp-go runs a tool with the context of the request
// that carries the call, so [tenant.FromContext] and
// oidcx.ClaimsFromContext are that request's tenant and caller. The
// official Go SDK runs it with the context of the request that opened the
// session: [tenant.FromContext] is the session's tenant, which the guard
// guarantees is the current request's (with its settings as of the
// session's start), and the current request's caller is
// req.Extra.TokenInfo (UserID is the subject; nil when anonymous), which
// the glue fills from the verified claims. Both hold for the duration of
// the call.
package tenancy
