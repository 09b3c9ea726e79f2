package main

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/testredis"
)

// backend is a Redis the end-to-end tests run against.
type backend struct {
	name string
	// open returns an emptied Redis for one test, and the embedded server
	// when it is miniredis (nil otherwise).
	open func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis)
}

// backends returns miniredis, and the real Redis when TENANCY_REDIS_ADDR
// names one (internal/testredis reads the variables). The real Redis is
// locked for the whole calling test, so that the test binaries of other
// packages, which flush it, wait meanwhile.
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{name: "miniredis", open: func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb, m
	}}}
	addr, ok := testredis.LookupAddr(t)
	if !ok {
		t.Logf("%s not set: the real-Redis cases are skipped; run scripts/redis-up.sh to include them", testredis.EnvAddr)
		return bs
	}
	testredis.Lock(t, addr)
	return append(bs, backend{name: "redis", open: func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis) {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatalf("flush %s: %v", addr, err)
		}
		return rdb, nil
	}})
}
