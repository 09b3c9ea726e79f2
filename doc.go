// Package tenancy makes an existing net/http server multi-tenant. It finds
// the tenant of every request (by subdomain, path or header), validates it
// through an in-process cache in front of Redis, keeps each tenant's data in
// its own Redis namespace, and applies each tenant's rate limit.
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
//	http.Handle("/mcp", svc.Middleware(mcpHandler))
//
// Inside mcpHandler, [tenant.FromContext] returns the request's tenant, and
// [Service.Store] holds its clients, sessions and limits. The parts are
// usable alone: package resolve finds tenant identifiers, package middleware
// holds the cache and the middleware, package store and its sub-packages the
// data.
package tenancy
