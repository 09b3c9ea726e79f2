package redisstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

func Example() {
	ctx := context.Background()
	m, _ := miniredis.Run() // any Redis: a single node, Sentinel or a Cluster
	defer m.Close()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{m.Addr()}})
	defer rdb.Close()

	s := redisstore.New(rdb, redisstore.Config{})
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{
		ID: "acme", Name: "ACME", Domain: "mcp.acme.com", Status: tenant.StatusActive,
		Limits: tenant.Limits{RateLimit: 2},
	})
	fmt.Println("create:", err)

	id, _ := s.Tenants().LookupDomain(ctx, "mcp.acme.com")
	t, _ := s.Tenants().Get(ctx, id)
	fmt.Println(t.ID, t.Name)

	for range 3 {
		d, _ := s.Allow(ctx, t.ID, "all", t.Limits.RateLimit)
		fmt.Println("allowed:", d.Allowed, "remaining:", d.Remaining)
	}

	n, _ := s.Tenants().Delete(ctx, "acme")
	fmt.Println("keys removed:", n)
	_, err = s.Tenants().Get(ctx, "acme")
	fmt.Println("gone:", errors.Is(err, tenant.ErrNotFound))
	// Output:
	// create: <nil>
	// acme ACME
	// allowed: true remaining: 1
	// allowed: true remaining: 0
	// allowed: false remaining: 0
	// keys removed: 3
	// gone: true
}
