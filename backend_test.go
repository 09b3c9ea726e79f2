package tenancy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// TestServiceOnMemstore runs the whole Service on a memory store: the
// tenant middleware with the directory, the rate limit, the admin API with
// its audit trail, usage counts and the tenant events.
func TestServiceOnMemstore(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(memstore.Config{})
	s := newService(t, Config{Store: mem.Backend(), MultiTenant: true, Identification: ByHeader,
		AdminAPIKey: "k", UsageInterval: time.Hour})
	waitSubscribed(t, s)
	require.NotNil(t, s.Directory(), "memstore lists its tenants: the directory is on")
	var mu sync.Mutex
	var events []store.Event
	s.OnEvent(func(e store.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	h := s.Middleware(whoami)

	_, err := s.Store().Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive,
		Limits: tenant.Limits{RateLimit: 2}})
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	rec := get(h, "x", "/mcp", "X-Tenant-ID", "acme")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "acme /mcp", rec.Body.String())
	assert.Equal(t, http.StatusOK, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
	assert.Equal(t, http.StatusTooManyRequests, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code, "the rate limit leases from memstore")
	assert.Equal(t, http.StatusNotFound, get(h, "x", "/mcp", "X-Tenant-ID", "nobody").Code)
	assert.Positive(t, s.Cache().Stats().RuledOut, "an unknown ID is ruled out by the directory, without a store read")

	// A change through the admin API applies at once and is audited.
	patch := httptest.NewRequest(http.MethodPatch, "/admin/tenants/acme", strings.NewReader(`{"status":"suspended"}`))
	patch.Header.Set("Content-Type", "application/merge-patch+json")
	patch.Header.Set(AdminKeyHeader, "k")
	rec = httptest.NewRecorder()
	s.Admin().ServeHTTP(rec, patch)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, http.StatusNotFound, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
	require.NoError(t, s.Sync(ctx))
	trail, err := s.Store().Audit().Read(ctx, "acme", "", 10)
	require.NoError(t, err)
	require.Len(t, trail, 1)
	assert.Equal(t, []string{"status"}, trail[0].Fields)

	// Usage is written to the memory store at Close.
	require.NoError(t, s.Close())
	today := time.Now().UTC().Format(store.DateLayout)
	days, err := mem.Usage().Read(ctx, "acme", today, today)
	require.NoError(t, err)
	assert.Equal(t, int64(2), days[0].Served)
	assert.Equal(t, int64(1), days[0].RateLimited)

	// The admin API's change reaches the hooks at once and again when its
	// event comes back.
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []store.Event{
		{Type: store.EventCreated, TenantID: "acme"},
		{Type: store.EventUpdated, TenantID: "acme"},
		{Type: store.EventUpdated, TenantID: "acme"},
	}, events, "the hooks see the store's events, and never a mark")
}

// blockingService returns a Service on st whose event hook blocks on
// every updated event until the returned release is called; entered
// receives a value when it starts blocking.
func blockingService(t *testing.T, cfg Config) (s *Service, entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}, 1), make(chan struct{})
	cfg.MultiTenant, cfg.Identification = true, ByHeader
	// A long TTL: only the events make a change visible.
	cfg.Cache = middleware.CacheConfig{TTL: time.Hour}
	s = newService(t, cfg)
	waitSubscribed(t, s)
	s.OnEvent(func(e store.Event) {
		if e.Type == store.EventUpdated {
			in <- struct{}{}
			<-out
		}
	})
	released := false
	release = func() {
		if !released {
			released = true
			close(out)
		}
	}
	t.Cleanup(release)
	return s, in, release
}

// TestSync checks that Sync returns only once the events published before
// it have been applied: a hook that holds an event holds Sync too.
func TestSync(t *testing.T) {
	backends := map[string]func(t *testing.T) Config{
		"memstore": func(t *testing.T) Config { return Config{Store: memstore.New(memstore.Config{}).Backend()} },
		"miniredis": func(t *testing.T) Config {
			return Config{Redis: fakeRedis(t)}
		},
		"redis": func(t *testing.T) Config {
			c := redis.NewClient(&redis.Options{Addr: testredis.Standalone(t).Options().Addr})
			t.Cleanup(func() { _ = c.Close() })
			return Config{Redis: c}
		},
		"cluster": func(t *testing.T) Config {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testredis.Cluster(t).Options().Addrs})
			t.Cleanup(func() { _ = c.Close() })
			return Config{Redis: c}
		},
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, entered, release := blockingService(t, backend(t))
			tn := createTenant(t, s, "acme")
			require.NoError(t, s.Sync(ctx))

			tn.Status = tenant.StatusSuspended
			_, err := s.Store().Tenants().Update(ctx, tn)
			require.NoError(t, err)
			<-entered
			short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancelShort()
			err = s.Sync(short)
			require.ErrorIs(t, err, context.DeadlineExceeded, "Sync waits for the event ahead of its mark")

			release()
			require.NoError(t, s.Sync(ctx))
			assert.Equal(t, http.StatusNotFound, get(s.Middleware(whoami), "x", "/mcp", "X-Tenant-ID", "acme").Code)
		})
	}
}

// TestSyncOtherReplica checks that a change made through one replica is
// applied on another once the other's Sync returns.
func TestSyncOtherReplica(t *testing.T) {
	tests := map[string]func(t *testing.T) (a, b Config){
		"memstore": func(t *testing.T) (Config, Config) {
			mem := memstore.New(memstore.Config{})
			return Config{Store: mem.Backend()}, Config{Store: mem.Backend()}
		},
		"miniredis": func(t *testing.T) (Config, Config) {
			m := miniredis.RunT(t)
			return Config{Redis: client(t, m.Addr())}, Config{Redis: client(t, m.Addr())}
		},
		"redis": func(t *testing.T) (Config, Config) {
			addr := testredis.Standalone(t).Options().Addr
			return Config{Redis: client(t, addr)}, Config{Redis: client(t, addr)}
		},
	}
	for name, configs := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ca, cb := configs(t)
			a, _, releaseA := blockingService(t, ca)
			releaseA()
			b, entered, release := blockingService(t, cb)
			tn := createTenant(t, a, "acme")
			require.NoError(t, b.Sync(ctx))
			hb := b.Middleware(whoami)
			require.Equal(t, http.StatusOK, get(hb, "x", "/mcp", "X-Tenant-ID", "acme").Code)

			tn.Status = tenant.StatusSuspended
			_, err := a.Store().Tenants().Update(ctx, tn)
			require.NoError(t, err)
			<-entered
			short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancelShort()
			require.ErrorIs(t, b.Sync(short), context.DeadlineExceeded)
			release()
			require.NoError(t, b.Sync(ctx))
			assert.Equal(t, http.StatusNotFound, get(hb, "x", "/mcp", "X-Tenant-ID", "acme").Code)
		})
	}
}

func client(t *testing.T, addr string) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestSyncReleasedByReset checks that a reset (the subscription made again
// after a break, which may have lost the mark) releases a waiting Sync:
// the reset dropped everything the lost events could have changed.
func TestSyncReleasedByReset(t *testing.T) {
	ctx := context.Background()
	s, entered, release := blockingService(t, Config{Store: memstore.New(memstore.Config{}).Backend()})
	defer release()
	tn := createTenant(t, s, "acme")
	tn.Name = "changed"
	_, err := s.Store().Tenants().Update(ctx, tn)
	require.NoError(t, err)
	<-entered // the event goroutine is held: the mark cannot come back
	done := make(chan error, 1)
	go func() { done <- s.Sync(ctx) }()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.syncs) == 1
	}, 5*time.Second, time.Millisecond)
	s.apply(store.Event{Type: store.EventReset})
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the reset did not release Sync")
	}
}

// hidden is a store.Backend without the optional interfaces of the store
// behind it.
type hidden struct{ store.Backend }

func TestSyncErrors(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{Store: hidden{memstore.New(memstore.Config{}).Backend()}})
	assert.ErrorIs(t, s.Sync(ctx), errors.ErrUnsupported, "a store that cannot mark its events")

	s = newService(t, Config{Store: memstore.New(memstore.Config{}).Backend()})
	require.NoError(t, s.Sync(ctx))
	require.NoError(t, s.Close())
	assert.ErrorContains(t, s.Sync(ctx), "closed")
}

// TestServiceWithoutDirectory runs the Service on a registry that cannot
// list its tenants: no directory, every uncached ID is read.
func TestServiceWithoutDirectory(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(memstore.Config{})
	s := newService(t, Config{Store: plainBackend{hidden{mem.Backend()}}, MultiTenant: true, Identification: ByHeader})
	waitSubscribed(t, s)
	assert.Nil(t, s.Directory())
	_, err := mem.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, get(s.Middleware(whoami), "x", "/mcp", "X-Tenant-ID", "acme").Code)
	assert.Equal(t, http.StatusNotFound, get(s.Middleware(whoami), "x", "/mcp", "X-Tenant-ID", "nobody").Code)
}

// plainBackend hides the optional interfaces of the tenant registry too.
type plainBackend struct{ hidden }

func (b plainBackend) Tenants() store.Tenants { return plainTenants{b.hidden.Tenants()} }

type plainTenants struct{ store.Tenants }

// gatedBackend holds back its subscription until gate is closed, so that
// a test can register hooks before the first reset.
type gatedBackend struct {
	store.Backend
	gate chan struct{}
}

func (g gatedBackend) Subscribe(ctx context.Context, fn func(store.Event)) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Backend.Subscribe(ctx, fn)
}

func (g gatedBackend) Mark(ctx context.Context, mark string) error {
	return g.Backend.(store.Marker).Mark(ctx, mark)
}

// TestSubscribedOnceTheResetIsApplied: the subscription counts as started
// (Ready, and the wait of Sync) only once its first reset has been applied
// whole, its hooks included. Before, it counted as started when the reset
// began to be applied, so a Sync begun at that moment was released by the
// reset's end instead of its own mark, before the events ahead of it, and
// a hook registered then saw the reset.
func TestSubscribedOnceTheResetIsApplied(t *testing.T) {
	mem := memstore.New(memstore.Config{})
	g := gatedBackend{Backend: mem.Backend(), gate: make(chan struct{})}
	s := newService(t, Config{Store: g, MultiTenant: true, Identification: ByHeader, UsageInterval: time.Hour})
	var sawReset, startedDuringReset atomic.Bool
	s.OnEvent(func(e store.Event) {
		if e.Type != store.EventReset {
			return
		}
		sawReset.Store(true)
		select {
		case <-s.subscribed:
			startedDuringReset.Store(true)
		default:
		}
	})
	close(g.gate)
	waitSubscribed(t, s)
	require.True(t, sawReset.Load(), "the hook registered before the subscription sees its reset")
	assert.False(t, startedDuringReset.Load(), "the subscription counted as started while its reset was being applied")
}
