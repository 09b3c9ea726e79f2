package mcpsession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// roundTrips counts the commands a Redis client sends.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// discard is a ResponseWriter that keeps nothing, so that the benchmark
// measures the guard and not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkKnownSession serves requests that carry a known session ID,
// through the guard on a Redis store, and reports the store round trips
// per request: a held session is checked in memory and touched in the
// store at most every TouchEvery ("batched"), or on every request ("every
// request"); a session another replica admitted is read and touched
// ("stored", two round trips). "bare" is the handler alone. It runs on
// miniredis, and on the real Redis when TENANCY_REDIS_ADDR names one.
func BenchmarkKnownSession(b *testing.B) {
	b.Run("miniredis", func(b *testing.B) {
		m := miniredis.RunT(b)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		b.Cleanup(func() { _ = rdb.Close() })
		benchKnownSession(b, rdb)
	})
	if _, ok := testredis.LookupAddr(b); ok {
		b.Run("redis", func(b *testing.B) { benchKnownSession(b, testredis.Standalone(b)) })
	}
}

func benchKnownSession(b *testing.B, rdb *redis.Client) {
	rt := &roundTrips{}
	rdb.AddHook(rt)
	st := redisstore.New(rdb, redisstore.Config{})
	ctx := context.Background()
	require.NoError(b, st.LoadScripts(ctx))
	acme := &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive}
	// The store keeps sessions of tenants it holds only.
	if _, err := st.Tenants().Create(ctx, acme); err != nil && !errors.Is(err, store.ErrExists) {
		require.NoError(b, err)
	}
	claims := &oidcx.Claims{TenantID: "acme", Issuer: "https://idp.example", Subject: "alice"}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })

	i := 0
	for _, tc := range []struct {
		name       string
		touchEvery time.Duration // 0: the default, -1: every request
		stored     bool
		bare       bool
	}{
		{name: "bare", bare: true},
		{name: "batched"},
		{name: "every request", touchEvery: -1},
		{name: "stored", stored: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			i++
			g, err := New(next, Config{Sessions: st.Sessions(), Tenants: st.Tenants(), Ender: EnderFunc(func(string) {}),
				TouchEvery: tc.touchEvery, PerCaller: -1, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			defer g.Close(ctx)
			id := fmt.Sprintf("bench-%d", i)
			owner := store.Owner{Issuer: claims.Issuer, Subject: claims.Subject}
			if tc.stored {
				_, err = st.Sessions().Admit(ctx, "acme", id, owner, store.SessionLimits{})
			} else {
				err = g.admit(ctx, acme, owner, id)
			}
			require.NoError(b, err)
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Header.Set(Header, id)
			r = r.WithContext(oidcx.NewContext(tenant.NewContext(r.Context(), acme), claims))
			var h http.Handler = g
			if tc.bare {
				h = next
			}
			w := &discard{h: http.Header{}}
			rt.n.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			b.ReportMetric(float64(rt.n.Load())/float64(b.N), "roundtrips/op")
		})
	}
}
