// Package middleware puts the tenant on every request: [Tenant] resolves the
// tenant identifier, validates the tenant through a [Cache] in front of the
// tenant store, and attaches the tenant to the request context; [RateLimit]
// then applies the tenant's request budget.
//
// Both are plain func(http.Handler) http.Handler and fail at construction on
// a bad configuration, never per request:
//
//	dir := middleware.NewDirectory(tenants, middleware.DirectoryConfig{})
//	go dir.Run(ctx) // which tenants exist: made-up IDs cost no store read
//	cache := middleware.NewCache(tenants, middleware.CacheConfig{Known: dir})
//	go tenants.Subscribe(ctx, cache.Handle) // drop what other replicas changed
//	withTenant, err := middleware.Tenant(middleware.TenantConfig{
//		Resolver: resolver,
//		Cache:    cache,
//	})
//	...
//	limit, err := middleware.RateLimit(middleware.RateLimitConfig{Leaser: st}) // a redisstore.Store
//	...
//	http.ListenAndServe(addr, withTenant(limit(app)))
//
// RateLimit spends each tenant's budget from leases, shares of it taken
// from the store in one round trip and spent in memory, so that a busy
// tenant's requests rarely reach the store. The price is a bound instead
// of an exact count: in any interval a tenant gets at most what its limit
// allows plus the leases outstanding at the start, at most one per
// replica, each at most three seconds' worth of the limit by default.
// Tenants limited to fewer than 20 requests a minute get leases of one
// request, and an exact limit.
//
// Refusals are JSON with Content-Type application/json and Cache-Control
// no-store; an unknown and a suspended tenant get byte-identical answers.
package middleware
