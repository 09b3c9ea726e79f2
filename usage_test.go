package tenancy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/seedmcp/tenancy/usage"
)

const usageKey = "usage-test-operator-key-0123456789"

// usageOf reads a tenant's usage of today through the admin API.
func usageOf(t *testing.T, s *Service, id string) store.UsageCounts {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/admin/tenants/"+id+"/usage?from="+today()+"&to="+today(), nil)
	req.Header.Set(AdminKeyHeader, usageKey)
	w := httptest.NewRecorder()
	s.Admin().ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var rep usage.Report
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &rep))
	return rep.Total
}

func today() string { return time.Now().UTC().Format(store.DateLayout) }

// TestUsageCostsNoRoundTrip counts the Redis commands of a Service's
// requests: counting usage sends none; writing it is one pipeline.
func TestUsageCostsNoRoundTrip(t *testing.T) {
	c := fakeRedis(t)
	counter := &commandCounter{}
	c.AddHook(counter)
	s := newService(t, Config{Redis: c, MultiTenant: true, Identification: ByHeader, AdminAPIKey: usageKey, UsageInterval: time.Hour})
	waitSubscribed(t, s)
	createTenant(t, s, "acme")
	h := s.Middleware(whoami)
	require.Eventually(t, func() bool { return get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code == 200 }, 10*time.Second, 5*time.Millisecond)
	// The first write also loads the script on the server.
	require.NoError(t, s.Usage().Flush(t.Context()))

	before := counter.n.Load()
	for range 1000 {
		require.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
	}
	assert.Equal(t, before, counter.n.Load(), "counting 1,000 requests sends no Redis command; the last: %v", counter.recent())
	require.NoError(t, s.Usage().Flush(t.Context()))
	assert.Equal(t, int64(1), counter.n.Load()-before, "writing them is one script call")
	assert.GreaterOrEqual(t, usageOf(t, s, "acme").Served, int64(1001))
}

func TestServiceCountsRefusalsAndHostEvents(t *testing.T) {
	s := newService(t, Config{Redis: fakeRedis(t), MultiTenant: true, Identification: ByHeader, AdminAPIKey: usageKey, UsageInterval: time.Hour})
	waitSubscribed(t, s)
	createTenant(t, s, "acme", func(tn *tenant.Tenant) { tn.Limits.RateLimit = 5 })
	h := s.Middleware(whoami)
	codes := map[int]int64{}
	for range 20 {
		codes[get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code]++
	}
	get(h, "x", "/mcp", "X-Tenant-ID", "nobody") // unknown: nobody's usage
	s.AuthRefused("acme", "invalid_token")
	s.Usage().ToolCall("acme", "whoami")
	s.Usage().SessionOpened("acme")
	s.Usage().Login("acme")
	require.NoError(t, s.Usage().Flush(t.Context()))
	got := usageOf(t, s, "acme")
	assert.Equal(t, codes[200], got.Served, "served: the requests let through")
	assert.Equal(t, codes[429], got.RateLimited, "rateLimited: the 429s")
	assert.Positive(t, got.RateLimited)
	assert.Equal(t, store.UsageCounts{Served: got.Served, RateLimited: got.RateLimited, AuthRefused: 1, SessionsOpened: 1, Logins: 1,
		ToolCalls: map[string]int64{"whoami": 1}}, got)

	require.NoError(t, s.Close())
	page, err := s.Audit().Read(t.Context(), "acme", "", 0)
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	assert.Equal(t, store.AuditEvent{ID: page.Events[0].ID, Time: page.Events[0].Time, Type: store.AuditAuthRefused, Reason: "invalid_token"}, page.Events[0])
}

// testUsageReplicas runs three Services on one Redis, each with its own
// client: their counts add up exactly; the one stopped gracefully (Close)
// loses nothing; the one killed, whose last write cannot reach Redis,
// loses what it counted since its last write, at most one
// UsageInterval, and nothing else.
func testUsageReplicas(t *testing.T, connect func() redis.UniversalClient) {
	cfg := func(rdb redis.UniversalClient) Config {
		return Config{Redis: rdb, MultiTenant: true, Identification: ByHeader, AdminAPIKey: usageKey, UsageInterval: time.Hour}
	}
	replicas := make([]*Service, 3)
	clients := make([]redis.UniversalClient, 3)
	for i := range replicas {
		clients[i] = connect()
		s, err := New(cfg(clients[i]))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		replicas[i] = s
		waitSubscribed(t, s)
	}
	t.Cleanup(func() {
		for _, c := range clients {
			_ = c.Close()
		}
	})
	for _, id := range []string{"acme", "globex"} {
		createTenant(t, replicas[0], id)
	}
	serve := func(s *Service, id string, n int) {
		h := s.Middleware(whoami)
		for range n {
			require.Equal(t, 200, get(h, "x", "/mcp", "X-Tenant-ID", id).Code)
		}
	}
	// A replica may not know of the new tenants yet: wait until each
	// serves them, with requests that are counted like the others.
	for _, s := range replicas {
		h := s.Middleware(whoami)
		for _, id := range []string{"acme", "globex"} {
			require.Eventually(t, func() bool {
				return get(h, "x", "/mcp", "X-Tenant-ID", id).Code == 200
			}, 10*time.Second, 5*time.Millisecond)
		}
	}
	// The warm-up requests that got through were counted (one per tenant
	// per replica); the refused ones were not.
	const warmed = 3

	for i, s := range replicas {
		serve(s, "acme", 100*(i+1))
		serve(s, "globex", 10*(i+1))
	}
	for _, s := range replicas {
		require.NoError(t, s.Usage().Flush(t.Context()), "each replica's interval write")
	}
	reader := replicas[2]
	assert.Equal(t, int64(600+warmed), usageOf(t, reader, "acme").Served, "three replicas add up exactly")
	assert.Equal(t, int64(60+warmed), usageOf(t, reader, "globex").Served)

	// Replica 0 is stopped gracefully: Close writes what it counted.
	serve(replicas[0], "acme", 7)
	require.NoError(t, replicas[0].Close())
	assert.Equal(t, int64(607+warmed), usageOf(t, reader, "acme").Served, "a replica closed gracefully loses nothing")

	// Replica 1 writes at its interval, serves 13 more, and dies before
	// its next write: its connection is gone when it tries.
	serve(replicas[1], "acme", 11)
	require.NoError(t, replicas[1].Usage().Flush(t.Context()))
	serve(replicas[1], "acme", 13)
	require.NoError(t, clients[1].Close())
	require.Error(t, replicas[1].Close(), "the last write of the killed replica fails")
	serve(replicas[2], "acme", 17)
	require.NoError(t, replicas[2].Usage().Flush(t.Context()))
	assert.Equal(t, int64(607+11+17+warmed), usageOf(t, reader, "acme").Served,
		"the killed replica lost the 13 requests since its last write (less than one interval), nothing else")
}

func TestUsageReplicasRedis(t *testing.T) {
	addr := testredis.Addr(t)
	testredis.Standalone(t) // lock and empty the server for this test
	testUsageReplicas(t, func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: addr}) })
}

func TestUsageReplicasCluster(t *testing.T) {
	addrs := testredis.ClusterAddrs(t)
	testredis.Cluster(t)
	testUsageReplicas(t, func() redis.UniversalClient { return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}) })
}

func TestConfigUsageAuditAndKeys(t *testing.T) {
	env := map[string]string{
		"TENANT_ADMIN_API_KEY":  " first-key , second-key,,third-key ",
		"TENANT_USAGE_INTERVAL": "30s",
		"TENANT_AUDIT_LENGTH":   "500",
	}
	c, err := ConfigFrom(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "first-key", c.AdminAPIKey)
	assert.Equal(t, []string{"second-key", "third-key"}, c.AdminAPIKeys)
	assert.Equal(t, 30*time.Second, c.UsageInterval)
	assert.Equal(t, 500, c.AuditLength)

	for name, bad := range map[string]string{
		"TENANT_USAGE_INTERVAL": "10ms", "TENANT_AUDIT_LENGTH": "0", "TENANT_ADMIN_API_KEY": " , ",
	} {
		_, err := ConfigFrom(func(k string) string {
			if k == name {
				return bad
			}
			return ""
		})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name)
	}
	_, err = ConfigFrom(func(k string) string {
		if k == "TENANT_ADMIN_API_KEY" {
			return ",,"
		}
		return ""
	})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), ",,", "a key's value is never in an error")

	c, err = Config{Redis: fakeRedis(t)}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, usage.DefaultInterval, c.UsageInterval)
	assert.Equal(t, store.DefaultAuditLength, c.AuditLength)
}

// TestServiceAdminKeys: every operator key of the configuration opens the
// Service's admin API, and tenant keys work through it.
func TestServiceAdminKeys(t *testing.T) {
	s := newService(t, Config{Redis: fakeRedis(t), MultiTenant: true, AdminAPIKey: usageKey, AdminAPIKeys: []string{"rotated-key-0123456789"}})
	createTenant(t, s, "acme")
	do := func(method, path, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set(AdminKeyHeader, key)
		w := httptest.NewRecorder()
		s.Admin().ServeHTTP(w, req)
		return w
	}
	assert.Equal(t, http.StatusOK, do("GET", "/admin/tenants/acme", "rotated-key-0123456789").Code)
	w := do("POST", "/admin/tenants/acme/keys", usageKey)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var k struct{ Key string }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &k))
	require.True(t, strings.HasPrefix(k.Key, "tk.acme."))
	assert.Equal(t, http.StatusOK, do("GET", "/admin/tenants/acme/audit", k.Key).Code)
	assert.Equal(t, http.StatusForbidden, do("GET", "/admin/tenants", k.Key).Code)
}
