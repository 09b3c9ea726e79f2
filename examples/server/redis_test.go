package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The environment of the integration Redis, as the root module's
// internal/testredis reads it (the examples module cannot import that
// package).
const (
	envRedisAddr    = "TENANCY_REDIS_ADDR"
	envRequireRedis = "TENANCY_REQUIRE_REDIS"
)

// backend is a Redis the end-to-end tests run against.
type backend struct {
	name string
	// open returns an emptied Redis for one test, and the embedded server
	// when it is miniredis (nil otherwise).
	open func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis)
}

// backends returns miniredis, and the real Redis when TENANCY_REDIS_ADDR
// names one. The real Redis is locked for the whole calling test, so that
// the test binaries of other packages, which flush it, wait meanwhile.
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{name: "miniredis", open: func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb, m
	}}}
	addr := strings.TrimSpace(os.Getenv(envRedisAddr))
	if addr == "" {
		if os.Getenv(envRequireRedis) == "1" {
			t.Fatalf("%s is not set but %s=1: the integration servers must be running", envRedisAddr, envRequireRedis)
		}
		t.Logf("%s not set: the real-Redis cases are skipped; run scripts/redis-up.sh to include them", envRedisAddr)
		return bs
	}
	lockRedis(t, addr)
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

// lockRedis holds the machine-wide lock on addr that internal/testredis
// takes, until t ends: same file, same flock.
func lockRedis(t *testing.T, addr string) {
	t.Helper()
	name := filepath.Join(os.TempDir(), "tenancy-testredis-"+strings.NewReplacer(":", "_", "/", "_").Replace(addr)+".lock")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		t.Fatalf("lock: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	})
}
