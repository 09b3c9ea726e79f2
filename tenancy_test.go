package tenancy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

func fakeRedis(t testing.TB) *redis.Client {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var quiet = slog.New(slog.DiscardHandler)

// whoami answers with the request's tenant and path.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	_, _ = io.WriteString(w, t.ID+" "+r.URL.Path)
})

func newService(t testing.TB, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitSubscribed waits until s follows the tenant events: the subscription
// delivers a reset event when it starts.
func waitSubscribed(t testing.TB, s *Service) {
	select {
	case <-s.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("the service did not subscribe to the tenant events")
	}
}

func get(h http.Handler, host, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func createTenant(t testing.TB, s *Service, id string, mutate ...func(*tenant.Tenant)) *tenant.Tenant {
	tn := &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive}
	for _, m := range mutate {
		m(tn)
	}
	got, err := s.Store().Tenants().Create(context.Background(), tn)
	require.NoError(t, err)
	return got
}

func TestSingleTenantModeServesDefault(t *testing.T) {
	s := newService(t, Config{Redis: fakeRedis(t), Default: tenant.Tenant{
		OIDC: tenant.OIDC{Issuer: "https://auth.example.com", Audience: "seed"},
	}})
	var seen *tenant.Tenant
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = tenant.FromContext(r.Context())
	}))
	rec := get(h, "anything.example.com", "/mcp")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "default", seen.ID)
	assert.Equal(t, "https://auth.example.com", seen.OIDC.Issuer, "settings from the host's configuration")

	// A stored tenant "default" takes precedence over the host's settings.
	createTenant(t, s, "default", func(tn *tenant.Tenant) {
		tn.OIDC = tenant.OIDC{Issuer: "https://stored.example.com", Audience: "seed"}
	})
	s.Cache().Invalidate("default")
	rec = get(h, "anything.example.com", "/mcp")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "https://stored.example.com", seen.OIDC.Issuer)
}

func TestModes(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		host   string
		path   string
		header []string
		want   string
	}{
		{"subdomain", Config{Identification: BySubdomain, BaseDomain: "seed.example.com"}, "acme.seed.example.com", "/mcp", nil, "acme /mcp"},
		{"custom domain", Config{Identification: BySubdomain, BaseDomain: "seed.example.com"}, "mcp.acme.com:443", "/mcp", nil, "acme /mcp"},
		{"path", Config{Identification: ByPath}, "seed.example.com", "/acme/mcp", nil, "acme /mcp"},
		{"header", Config{Identification: ByHeader, Header: "X-Org"}, "seed.example.com", "/mcp", []string{"X-Org", "acme"}, "acme /mcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.MultiTenant = true
			cfg.Redis = fakeRedis(t)
			s := newService(t, cfg)
			createTenant(t, s, "acme", func(tn *tenant.Tenant) { tn.Domain = "mcp.acme.com" })
			rec := get(s.Middleware(whoami), tt.host, tt.path, tt.header...)
			assert.Equal(t, 200, rec.Code, rec.Body.String())
			assert.Equal(t, tt.want, rec.Body.String())
		})
	}
}

func TestRateLimitThroughService(t *testing.T) {
	s := newService(t, Config{Redis: fakeRedis(t), MultiTenant: true, Identification: ByHeader})
	createTenant(t, s, "acme", func(tn *tenant.Tenant) { tn.Limits.RateLimit = 3 })
	createTenant(t, s, "beta", func(tn *tenant.Tenant) { tn.Limits.RateLimit = 3 })
	h := s.Middleware(whoami)
	for i := range 3 {
		rec := get(h, "x", "/mcp", "X-Tenant-ID", "acme")
		require.Equal(t, 200, rec.Code)
		assert.Equal(t, "3", rec.Header().Get("RateLimit-Limit"))
		assert.Equal(t, fmt.Sprint(2-i), rec.Header().Get("RateLimit-Remaining"))
	}
	rec := get(h, "x", "/mcp", "X-Tenant-ID", "acme")
	assert.Equal(t, 429, rec.Code)
	assert.Equal(t, `{"error":"Rate limit exceeded"}`, rec.Body.String())
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.Equal(t, "0", rec.Header().Get("RateLimit-Remaining"))
	assert.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", "beta").Code, "another tenant's budget is its own")
}

// TestSuspensionReachesOtherReplica runs two services on one Redis, as two
// replicas would: a suspension written through one is enforced by the
// other within a second.
func TestSuspensionReachesOtherReplica(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		testSuspensionReachesOtherReplica(t, func() redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: m.Addr()})
		})
	})
	t.Run("redis", func(t *testing.T) {
		addr := testredis.Standalone(t).Options().Addr
		testSuspensionReachesOtherReplica(t, func() redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr})
		})
	})
	t.Run("cluster", func(t *testing.T) {
		addrs := testredis.Cluster(t).Options().Addrs
		testSuspensionReachesOtherReplica(t, func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		})
	})
}

func testSuspensionReachesOtherReplica(t *testing.T, client func() redis.UniversalClient) {
	newReplica := func() *Service {
		c := client()
		t.Cleanup(func() { _ = c.Close() })
		s := newService(t, Config{Redis: c, MultiTenant: true, Identification: ByHeader,
			// A long TTL: only the event can make the change visible.
			Cache: middleware.CacheConfig{TTL: time.Hour}})
		waitSubscribed(t, s)
		return s
	}
	a, b := newReplica(), newReplica()
	tn := createTenant(t, a, "acme")
	hb := b.Middleware(whoami)
	// b refuses the new tenant, like any unknown ID, until the created
	// event reaches it, a few milliseconds later.
	require.Eventually(t, func() bool {
		return get(hb, "x", "/mcp", "X-Tenant-ID", "acme").Code == 200
	}, time.Second, time.Millisecond, "the created event reaches the other replica")

	tn.Status = tenant.StatusSuspended
	_, err := a.Store().Tenants().Update(context.Background(), tn)
	require.NoError(t, err)
	start := time.Now()
	require.Eventually(t, func() bool {
		return get(hb, "x", "/mcp", "X-Tenant-ID", "acme").Code == 404
	}, time.Second, 5*time.Millisecond, "suspension enforced on the other replica within a second")
	t.Logf("suspension seen by the other replica after %v", time.Since(start))

	tn.Status = tenant.StatusActive
	_, err = a.Store().Tenants().Update(context.Background(), tn)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return get(hb, "x", "/mcp", "X-Tenant-ID", "acme").Code == 200
	}, time.Second, 5*time.Millisecond, "reactivation too")
}

// TestRedisOutageDuringTraffic stops Redis while requests flow: cached
// tenants keep being served within the stale window, uncached ones get 503,
// nothing panics, and service comes back by itself with Redis. It runs on
// miniredis and on a real redis-server process that is shut down and
// started again.
func TestRedisOutageDuringTraffic(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		testOutage(t, m.Addr(), m.Close, func() { require.NoError(t, m.Restart()) })
	})
	t.Run("redis", func(t *testing.T) {
		srv := testredis.StartServer(t)
		testOutage(t, srv.Addr(), srv.Stop, srv.Start)
	})
}

func testOutage(t *testing.T, addr string, stopRedis, startRedis func()) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	// beta is stored before the service starts, so no event makes the
	// service read (and cache) it: it is uncached when Redis goes away.
	_, err := redisstore.New(c, redisstore.Config{}).Tenants().Create(context.Background(),
		&tenant.Tenant{ID: "beta", Name: "beta", Status: tenant.StatusActive})
	require.NoError(t, err)
	s := newService(t, Config{Redis: c, MultiTenant: true, Identification: ByHeader,
		Cache: middleware.CacheConfig{TTL: 50 * time.Millisecond, LookupTimeout: 200 * time.Millisecond}})
	createTenant(t, s, "acme", func(tn *tenant.Tenant) { tn.Limits.RateLimit = 100000 })
	h := s.Middleware(whoami)
	require.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var served, unavailable, other atomic.Int64
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				switch get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code {
				case 200:
					served.Add(1)
				case 503:
					unavailable.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	require.Eventually(t, func() bool { return served.Load() > 0 }, 5*time.Second, time.Millisecond, "traffic before the outage")
	reads := s.cache.Stats().StoreReads
	stopRedis()
	// Past the TTL, a read of the tenant starts and fails (once the dial
	// has failed); meanwhile and from then on the tenant is served from
	// the stale entry and the limiter is skipped, without waiting for
	// Redis. A hundred requests served after that read began are served
	// while Redis is down.
	require.Eventually(t, func() bool { return s.cache.Stats().StoreReads > reads }, 5*time.Second, time.Millisecond, "a read of the tenant after Redis stopped")
	during := served.Load()
	require.Eventually(t, func() bool { return served.Load() >= during+100 }, 10*time.Second, time.Millisecond, "cached tenant served while Redis is down")
	rec := get(h, "x", "/mcp", "X-Tenant-ID", "beta")
	assert.Equal(t, 503, rec.Code, "uncached tenant: unavailable")
	assert.Equal(t, `{"error":"Tenant service unavailable"}`, rec.Body.String())
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))

	startRedis()
	require.Eventually(t, func() bool {
		return get(h, "x", "/mcp", "X-Tenant-ID", "beta").Code == 200
	}, 5*time.Second, 20*time.Millisecond, "service recovers when Redis returns")
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, other.Load(), "only 200 and 503 during the outage")
	assert.Zero(t, unavailable.Load(), "the cached tenant never saw 503")
}

func TestAdminChangesApplyAtOnce(t *testing.T) {
	s := newService(t, Config{Redis: fakeRedis(t), MultiTenant: true, Identification: ByHeader, AdminAPIKey: "k3y",
		Cache: middleware.CacheConfig{TTL: time.Hour}})
	// Stop following the tenant events, so that only the admin API's own
	// hook can bring a change to this replica's cache.
	require.NoError(t, s.Close())
	h := s.Middleware(whoami)
	admin := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-Admin-API-Key", "k3y")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Admin().ServeHTTP(rec, req)
		return rec
	}
	require.Equal(t, 404, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
	require.Equal(t, 201, admin("POST", "/admin/tenants", `{"id":"acme","name":"ACME"}`).Code)
	assert.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code, "the negative entry was dropped")
	require.Equal(t, 200, admin("PATCH", "/admin/tenants/acme", `{"status":"suspended"}`).Code)
	assert.Equal(t, 404, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code, "suspension enforced on the next request")
	require.Equal(t, 200, admin("PATCH", "/admin/tenants/acme", `{"status":"active"}`).Code)
	assert.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
	require.Equal(t, 200, admin("DELETE", "/admin/tenants/acme", "").Code)
	assert.Equal(t, 404, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
}

func TestURLsFollowTheMode(t *testing.T) {
	tn := &tenant.Tenant{ID: "acme"}
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	tests := []struct {
		cfg            Config
		resource, meta string
	}{
		{Config{}, "http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/.well-known/oauth-protected-resource"},
		{Config{MultiTenant: true, BaseDomain: "localhost"}, "http://acme.localhost:8080/mcp", "http://acme.localhost:8080/.well-known/oauth-protected-resource"},
		{Config{MultiTenant: true, Identification: ByPath}, "http://127.0.0.1:8080/acme/mcp", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/acme/mcp"},
		{Config{MultiTenant: true, Identification: ByHeader}, "http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/.well-known/oauth-protected-resource"},
	}
	for _, tt := range tests {
		tt.cfg.Redis = fakeRedis(t)
		s := newService(t, tt.cfg)
		e, err := s.URLs("http://127.0.0.1:8080")
		require.NoError(t, err)
		assert.Equal(t, tt.resource, e.Resource(req, tn))
		assert.Equal(t, tt.meta, e.Metadata(req, tn))
	}
}

// commandCounter is a go-redis hook that counts the commands sent through
// a client, connections' handshakes aside, and keeps the names of the
// last ones so that a count that is off says what was sent.
type commandCounter struct {
	n    atomic.Int64
	mu   sync.Mutex
	last []string
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.count(cmd)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *commandCounter) count(cmd redis.Cmder) {
	switch cmd.Name() {
	case "hello", "client":
		// The handshake of a connection the pool (or the event
		// subscription, reconnecting on a loaded machine) dials: a cost
		// of the connection, not a command of the code measured.
		return
	}
	c.n.Add(1)
	c.mu.Lock()
	c.last = append(c.last, cmd.FullName())
	if len(c.last) > 32 {
		c.last = c.last[len(c.last)-32:]
	}
	c.mu.Unlock()
}

// recent returns the names of the last commands counted, at most 32.
func (c *commandCounter) recent() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.last)
}

// TestSteadyStateRedisCommands checks that once the cache is warm,
// validating a tenant sends no Redis command, and that the rate limit,
// spent from leases, sends fewer than one per twenty requests.
func TestSteadyStateRedisCommands(t *testing.T) {
	c := fakeRedis(t)
	counter := &commandCounter{}
	c.AddHook(counter)
	// The usage counted here is written once an interval: not within
	// this test.
	s := newService(t, Config{Redis: c, MultiTenant: true, Identification: ByHeader, UsageInterval: time.Hour})
	waitSubscribed(t, s) // the SUBSCRIBE is sent once, in the background
	var created atomic.Int64
	s.OnEvent(func(e store.Event) {
		if e.Type == store.EventCreated {
			created.Add(1)
		}
	})
	createTenant(t, s, "free")
	createTenant(t, s, "metered", func(tn *tenant.Tenant) { tn.Limits.RateLimit = 1_000_000 })
	// The creations come back as events, which drop the cache entries: let
	// them arrive before the cache is warmed.
	require.Eventually(t, func() bool { return created.Load() == 2 }, 10*time.Second, 5*time.Millisecond)
	// Each event makes the service read its tenant in the background (so
	// that the directory learns it), again when another event overtook
	// the read: let those reads finish too.
	require.Eventually(t, func() bool { return s.Directory().Stats().Unsettled == 0 }, 10*time.Second, 5*time.Millisecond)
	h := s.Middleware(whoami)
	for _, id := range []string{"free", "metered"} {
		require.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", id).Code)
	}

	before := counter.n.Load()
	for range 1000 {
		require.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", "free").Code)
	}
	assert.Equal(t, before, counter.n.Load(), "no Redis command to validate a cached tenant")

	before = counter.n.Load()
	for range 1000 {
		require.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", "metered").Code)
	}
	assert.Less(t, counter.n.Load()-before, int64(1000/20), "rate-limited requests are admitted from leases")
}
