package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// A fake clock makes clients expire without waiting.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	s := memstore.New(memstore.Config{Clock: func() time.Time { return now }})
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	fmt.Println("create acme:", err)

	err = s.Clients().Register(ctx, "acme", &store.Client{ClientID: "c1"}, 1)
	fmt.Println("register c1:", err)
	err = s.Clients().Register(ctx, "acme", &store.Client{ClientID: "c2"}, 1)
	fmt.Println("register c2 at the limit:", errors.Is(err, store.ErrLimit))

	now = now.Add(memstore.DefaultClientTTL + time.Second)
	_, err = s.Clients().Get(ctx, "acme", "c1")
	fmt.Println("c1 after 30 days:", errors.Is(err, store.ErrNotFound))
	err = s.Clients().Register(ctx, "acme", &store.Client{ClientID: "c2"}, 1)
	fmt.Println("register c2 again:", err)
	// Output:
	// create acme: <nil>
	// register c1: <nil>
	// register c2 at the limit: true
	// c1 after 30 days: true
	// register c2 again: <nil>
}

// The limiter allows a burst of the whole per-minute limit, then one
// request per interval.
func ExampleStore_Allow() {
	ctx := context.Background()
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	s := memstore.New(memstore.Config{Clock: func() time.Time { return now }})
	for range 3 {
		d, _ := s.Allow(ctx, "acme", "all", 3)
		fmt.Println(d.Allowed, d.Remaining, d.Reset)
	}
	d, _ := s.Allow(ctx, "acme", "all", 3)
	fmt.Println(d.Allowed, d.RetryAfter)
	// Output:
	// true 2 20s
	// true 1 40s
	// true 0 1m0s
	// false 20s
}
