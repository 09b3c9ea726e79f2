package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/storetest"
	"github.com/seedmcp/tenancy/tenant"
)

// newBackend is what a backend's test file gives the suite: fresh, empty
// stores for every case, and a way to make time pass. Its test then is
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newBackend) }
//
// and the suite runs each of its cases as a subtest. This one is
// memstore's, on a fake clock; a backend on a real server returns short
// lifetimes, an Advance that sleeps, and RealTime.
func newBackend(*testing.T) storetest.Backend {
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	s := memstore.New(memstore.Config{Clock: func() time.Time { return now }})
	return storetest.Backend{
		Tenants: s.Tenants(), Clients: s.Clients(), Sessions: s.Sessions(),
		Limiter: s, Events: s,
		Advance:   func(d time.Duration) { now = now.Add(d) },
		ClientTTL: memstore.DefaultClientTTL, SessionTTL: memstore.DefaultSessionTTL,
	}
}

// The suite checks lifetimes through Advance: a client registered now is
// gone once ClientTTL has passed. Here is that check, done by hand on the
// backend above.
func Example() {
	ctx := context.Background()
	b := newBackend(nil)
	_, _ = b.Tenants.Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	_ = b.Clients.Register(ctx, "acme", &store.Client{ClientID: "c1"}, 0)
	_, err := b.Clients.Get(ctx, "acme", "c1")
	fmt.Println("registered:", err)

	b.Advance(b.ClientTTL + time.Second)
	_, err = b.Clients.Get(ctx, "acme", "c1")
	fmt.Println("after ClientTTL:", errors.Is(err, store.ErrNotFound))
	// Output:
	// registered: <nil>
	// after ClientTTL: true
}

// TestConformance runs the suite on newBackend, so that the example above
// shows a backend that passes it.
func TestConformance(t *testing.T) { storetest.Run(t, newBackend) }
