// Package tenancy makes an existing net/http server multi-tenant. It finds
// the tenant of every request (by subdomain, path or header), validates it
// through an in-process cache in front of Redis, keeps each tenant's data in
// its own Redis namespace, applies each tenant's rate limit, verifies bearer
// tokens against the tenant's own identity provider, and serves an admin
// API for the tenants.
//
// The whole wiring, from the environment variables of DESIGN.md:
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
//	urls, _ := svc.Endpoints("https://seed.example.com")
//	bearer, _ := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls})
//	meta, _ := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
//	http.Handle("/admin/", svc.Admin())
//	http.Handle(svc.MetadataRoute(meta))
//	http.Handle("/mcp", svc.Middleware(bearer(mcpHandler)))
//
// Inside mcpHandler, [tenant.FromContext] returns the request's tenant and
// oidcx.ClaimsFromContext the token's claims; [Service.Store] holds the
// tenant's clients, sessions and limits. [Migrate] moves a single-tenant
// deployment's keys into tenant "default". The parts are usable alone:
// package resolve finds tenant identifiers, package middleware holds the
// cache and the middleware, package oidcx the per-tenant token checks, and
// package store and its sub-packages the data.
package tenancy
