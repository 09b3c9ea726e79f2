package redisstore_test

import (
	"fmt"
	"testing"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The benchmarks run on the real standalone Redis (TENANCY_REDIS_ADDR) and
// skip without it: against miniredis they would measure miniredis. Each
// operation is one round trip, which TestRoundTrips* checks; the figures
// are in BENCHMARKS.md.

func benchStore(b *testing.B) *redisstore.Store {
	b.Helper()
	s := redisstore.New(testredis.Standalone(b), redisstore.Config{})
	if err := s.LoadScripts(b.Context()); err != nil {
		b.Fatal(err)
	}
	_, err := s.Tenants().Create(b.Context(), &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPing is the floor: one round trip that does nothing.
func BenchmarkPing(b *testing.B) {
	rdb := testredis.Standalone(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := rdb.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTenantsGet(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Tenants().Get(ctx, "acme"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClientsRegister(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		// A limit that is never reached, so that the script does all of
		// its work: expire, count, check, write.
		if err := s.Clients().Register(ctx, "acme", clientNamed(fmt.Sprintf("client-%d", i)), 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSessionsCreate(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Sessions().Create(ctx, "acme", fmt.Sprintf("session-%d", i), "user", 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		// A limit high enough that every request is allowed, so that
		// every call writes the state.
		if _, err := s.Allow(ctx, "acme", "all", 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLimiterAllowParallel(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Allow(ctx, "acme", "all", 1<<30); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
