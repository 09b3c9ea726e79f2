// Package middleware puts the tenant on every request: [Tenant] resolves the
// tenant identifier, validates the tenant through a [Cache] in front of the
// tenant store, and attaches the tenant to the request context; [RateLimit]
// then applies the tenant's request budget.
//
// Both are plain func(http.Handler) http.Handler and fail at construction on
// a bad configuration, never per request:
//
//	cache := middleware.NewCache(tenants, middleware.CacheConfig{})
//	go tenants.Subscribe(ctx, cache.Handle) // drop what other replicas changed
//	withTenant, err := middleware.Tenant(middleware.TenantConfig{
//		Resolver: resolver,
//		Cache:    cache,
//	})
//	...
//	limit, err := middleware.RateLimit(middleware.RateLimitConfig{Limiter: limiter})
//	...
//	http.ListenAndServe(addr, withTenant(limit(app)))
//
// Refusals are JSON with Content-Type application/json and Cache-Control
// no-store; an unknown and a suspended tenant get byte-identical answers.
package middleware
