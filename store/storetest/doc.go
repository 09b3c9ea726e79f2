// Package storetest is the conformance suite of tenancy's stores. Every
// implementation of the store interfaces runs it from a test, the way
// net/http handlers run testing/slogtest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Backend {
//			now := time.Now()
//			s := memstore.New(memstore.Config{Clock: func() time.Time { return now }})
//			return storetest.Backend{
//				Tenants: s.Tenants(), Clients: s.Clients(), Sessions: s.Sessions(),
//				Limiter: s, Events: s,
//				Advance: func(d time.Duration) { now = now.Add(d) },
//				ClientTTL: memstore.DefaultClientTTL, SessionTTL: memstore.DefaultSessionTTL,
//			}
//		})
//	}
//
// The suite checks what callers rely on: the sentinel errors, isolation
// between tenants, lifetimes, limits under concurrency, the rate limiter's
// arithmetic, cascade deletes and their key counts, list cursors and
// events.
package storetest
