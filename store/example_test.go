package store_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// Every store answers with the package's sentinel errors, wrapped with
// details, so that callers match them with errors.Is whatever the
// backend. A missing or duplicate tenant also matches the tenant
// package's sentinels, for callers that only know that package; a
// missing session does not look like a missing tenant.
func Example() {
	ctx := context.Background()
	var tenants store.Tenants = memstore.New(memstore.Config{}).Tenants() // or redisstore's
	acme := &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}

	_, err := tenants.Create(ctx, acme)
	fmt.Println("create:", err)
	_, err = tenants.Create(ctx, acme)
	fmt.Println("again:", errors.Is(err, store.ErrTenantExists), errors.Is(err, store.ErrExists), errors.Is(err, tenant.ErrExists))
	_, err = tenants.Get(ctx, "globex")
	fmt.Println("unknown:", errors.Is(err, store.ErrTenantNotFound), errors.Is(err, tenant.ErrNotFound))

	s := memstore.New(memstore.Config{})
	if _, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}); err != nil {
		panic(err)
	}
	var sessions store.Sessions = s.Sessions()
	_, err = sessions.Get(ctx, "acme", "no-such-session")
	fmt.Println("session:", errors.Is(err, store.ErrNotFound), errors.Is(err, tenant.ErrNotFound))
	// Output:
	// create: <nil>
	// again: true true true
	// unknown: true true
	// session: true false
}

// A tenant's limits are enforced by the store, atomically: Admit records a
// session only while the tenant and its owner are within their limits.
func ExampleSessions() {
	ctx := context.Background()
	s := memstore.New(memstore.Config{})
	if _, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}); err != nil {
		panic(err)
	}
	var sessions store.Sessions = s.Sessions()
	limits := store.SessionLimits{MaxSessions: 2, PerOwner: 1}
	alice := store.Owner{Issuer: "https://auth.acme.example", Subject: "alice"}
	bob := store.Owner{Issuer: "https://auth.acme.example", Subject: "bob"}

	_, err := sessions.Admit(ctx, "acme", "s1", alice, limits)
	fmt.Println("alice s1:", err)
	_, err = sessions.Admit(ctx, "acme", "s2", alice, limits)
	fmt.Println("alice s2:", errors.Is(err, store.ErrOwnerLimit))
	_, err = sessions.Admit(ctx, "acme", "s3", bob, limits)
	fmt.Println("bob s3:", err)
	_, err = sessions.Admit(ctx, "acme", "s4", store.Owner{}, limits) // anonymous
	fmt.Println("anonymous s4:", errors.Is(err, store.ErrLimit), errors.Is(err, store.ErrOwnerLimit))
	// Output:
	// alice s1: <nil>
	// alice s2: true
	// bob s3: <nil>
	// anonymous s4: true false
}
