// Package memstore keeps tenancy's data in memory, with the semantics of
// redisstore: the same errors, lifetimes, limits, rate limiter arithmetic,
// events and cascade delete counts. It is meant for users' unit tests, where
// an injected clock replaces waiting:
//
//	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
//	s := memstore.New(memstore.Config{Clock: func() time.Time { return now }})
//	_ = s.Register(ctx, "acme", &store.Client{ClientID: "c1"}, 10)
//	now = now.Add(31 * 24 * time.Hour) // the client has expired
//
// Internally a [Store] is a small model of the Redis keyspace: it holds the
// same keys as redisstore (named by internal/keys), each with its expiry, so
// that [Store.Delete] counts removed keys exactly as redisstore does.
// A Store is safe for concurrent use.
package memstore
