package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func clientNamed(id string) *store.Client { return &store.Client{ClientID: id} }

// testRoundTrips checks how many round trips each operation on a request's
// path costs (tenant validation none, a rate-limit lease well under one
// per twenty requests), counted rather than timed.
func testRoundTrips(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	c := &counter{}
	rdb.AddHook(c)
	s := redisstore.New(rdb, redisstore.Config{})
	require.NoError(t, s.LoadScripts(ctx))
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Domain: "acme.example.com", Status: tenant.StatusActive})
	require.NoError(t, err)

	for _, op := range []struct {
		name string
		want int64
		run  func() error
	}{
		{"Tenants.Get", 1, func() error { _, err := s.Tenants().Get(ctx, "acme"); return err }},
		{"Tenants.LookupDomain", 1, func() error { _, err := s.Tenants().LookupDomain(ctx, "acme.example.com"); return err }},
		{"Tenants.List", 2, func() error { _, _, err := s.Tenants().List(ctx, "", 10); return err }},
		{"Clients.Register", 1, func() error { return s.Clients().Register(ctx, "acme", clientNamed("c1"), 10) }},
		{"Clients.Get", 1, func() error { _, err := s.Clients().Get(ctx, "acme", "c1"); return err }},
		{"Clients.Delete", 1, func() error { return s.Clients().Delete(ctx, "acme", "c1") }},
		{"Sessions.Create", 1, func() error { _, err := s.Sessions().Create(ctx, "acme", "s1", "u", 10); return err }},
		{"Sessions.Get", 1, func() error { _, err := s.Sessions().Get(ctx, "acme", "s1"); return err }},
		{"Sessions.Touch", 1, func() error { return s.Sessions().Touch(ctx, "acme", "s1") }},
		{"Sessions.Delete", 1, func() error { return s.Sessions().Delete(ctx, "acme", "s1") }},
		{"Grants.Put", 1, func() error { return s.Grants().Put(ctx, "acme", store.GrantCode, "g1", []byte("x"), time.Minute) }},
		{"Grants.Take", 1, func() error { _, err := s.Grants().Take(ctx, "acme", store.GrantCode, "g1"); return err }},
		{"Limiter.Allow", 1, func() error { _, err := s.Allow(ctx, "acme", "k", 100); return err }},
		{"Limiter.Allow unlimited", 0, func() error { _, err := s.Allow(ctx, "acme", "k", 0); return err }},
	} {
		c.n.Store(0)
		require.NoError(t, op.run(), op.name)
		assert.Equal(t, op.want, c.n.Load(), "round trips of %s", op.name)
	}
}

func TestRoundTripsMiniredis(t *testing.T) {
	_, _, rdb, _ := newMiniredis(t)
	testRoundTrips(t, rdb)
}

func TestRoundTripsRedis(t *testing.T) {
	testRoundTrips(t, testredis.Standalone(t))
}

func TestRoundTripsCluster(t *testing.T) {
	testRoundTrips(t, testredis.Cluster(t))
}
