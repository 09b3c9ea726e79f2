// Package middleware puts the tenant on every request: [Tenant] resolves the
// tenant identifier, validates the tenant through a [Cache] in front of the
// tenant store, and attaches the tenant to the request context; [RateLimit]
// then applies the tenant's request budget.
//
// Both are plain func(http.Handler) http.Handler and fail at construction on
// a bad configuration, never per request:
//
//	// st: a *redisstore.Store, or a *memstore.Store for one process
//	dir := middleware.NewDirectory(st.Tenants(), middleware.DirectoryConfig{})
//	go dir.Run(ctx) // which tenants exist: made-up IDs cost no store read
//	cache := middleware.NewCache(st.Tenants(), middleware.CacheConfig{Known: dir})
//	go st.Subscribe(ctx, cache.Handle) // the store's events: drop what changed
//	withTenant, err := middleware.Tenant(middleware.TenantConfig{
//		Resolver: resolver,
//		Cache:    cache,
//	})
//	...
//	limit, err := middleware.RateLimit(middleware.RateLimitConfig{Leaser: st})
//	...
//	http.ListenAndServe(addr, withTenant(limit(app)))
//
// [Cache.Handle] has applied an event when it returns, so a host that must
// know when a change has reached the cache (a test that suspends a tenant,
// then expects 404) subscribes a function that calls it and then signals;
// the root package's Service.Sync does this for the whole wiring. In path
// mode, see [resolve.Path] for mounting the middleware in a router.
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
// The default audit hook ([LogRefusal]) logs each refusal at debug level and
// sums them up in one line a minute, so that a client sending made-up IDs
// floods neither the store nor the log.
package middleware
