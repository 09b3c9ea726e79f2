package tenancy

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// TestSuspendedCustomDomainAnswersLikeUnregistered: the custom domain of a
// suspended tenant gets exactly the answer of a domain nobody registered
// (400 Missing tenant identifier, same bytes and headers), on the first
// probe and every later one, and neither costs a Redis command.
func TestSuspendedCustomDomainAnswersLikeUnregistered(t *testing.T) {
	c := fakeRedis(t)
	ctx := context.Background()
	st := redisstore.New(c, redisstore.Config{}).Tenants()
	_, err := st.Create(ctx, &tenant.Tenant{ID: "frozen", Name: "frozen", Domain: "mcp.frozen.example", Status: tenant.StatusSuspended})
	require.NoError(t, err)
	_, err = st.Create(ctx, &tenant.Tenant{ID: "acme", Name: "acme", Domain: "mcp.acme.example", Status: tenant.StatusActive})
	require.NoError(t, err)
	counter := &commandCounter{}
	c.AddHook(counter)
	s := newService(t, Config{Redis: c, MultiTenant: true, BaseDomain: "seed.example.com", UsageInterval: time.Hour})
	waitSubscribed(t, s)
	h := s.Middleware(whoami)

	before := counter.n.Load()
	for range 3 {
		unregistered := get(h, "nobody.example.org", "/mcp")
		suspended := get(h, "mcp.frozen.example", "/mcp")
		assert.Equal(t, 400, suspended.Code)
		assert.Equal(t, `{"error":"Missing tenant identifier"}`, suspended.Body.String())
		assert.Equal(t, unregistered.Code, suspended.Code)
		assert.Equal(t, unregistered.Body.Bytes(), suspended.Body.Bytes())
		assert.Equal(t, unregistered.Header(), suspended.Header())
	}
	assert.Equal(t, before, counter.n.Load(), "neither probe reads Redis; the last commands: %v", counter.recent())
	assert.Equal(t, 404, get(h, "frozen.seed.example.com", "/mcp").Code, "its subdomain is a suspended tenant, as before")
	assert.Equal(t, 200, get(h, "mcp.acme.example", "/mcp").Code)
}

// TestDomainOfSuspendedTenantWithoutDirectory: before the directory has
// loaded (or without one), the domain cache asks the tenant cache, and a
// domain of a suspended tenant is still not found, like an unregistered
// one.
func TestDomainOfSuspendedTenantWithoutDirectory(t *testing.T) {
	ms := memstore.New(memstore.Config{})
	ctx := context.Background()
	for _, tn := range []*tenant.Tenant{
		{ID: "frozen", Name: "frozen", Domain: "mcp.frozen.example", Status: tenant.StatusSuspended},
		{ID: "acme", Name: "acme", Domain: "mcp.acme.example", Status: tenant.StatusActive},
	} {
		_, err := ms.Tenants().Create(ctx, tn)
		require.NoError(t, err)
	}
	tenants := middleware.NewCache(ms.Tenants(), middleware.CacheConfig{})
	domains := middleware.NewCache(domainGetter(ms.Tenants(), tenants), middleware.CacheConfig{})
	r := resolve.Domain(func(ctx context.Context, host string) (string, error) {
		t, err := domains.Get(ctx, host)
		if err != nil {
			return "", err
		}
		return t.ID, nil
	})
	for range 2 {
		for _, host := range []string{"mcp.frozen.example", "nobody.example.org"} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/mcp", nil)
			_, err := r.Resolve(req)
			require.ErrorIs(t, err, tenant.ErrMissingID, host)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://mcp.acme.example/mcp", nil)
	id, err := r.Resolve(req)
	require.NoError(t, err)
	assert.Equal(t, "acme", id)
}

// TestClaimItsTenantDoesNotHold: a domain claim, or an issuer and
// audience claim, that names a tenant whose record does not hold it (left
// by a write that failed midway and whose undo failed too, then the ID
// created again by someone else) leads nowhere: the domain gets the
// answer of a domain nobody registered, and the pair names no tenant.
func TestClaimItsTenantDoesNotHold(t *testing.T) {
	c := fakeRedis(t)
	ctx := context.Background()
	st := redisstore.New(c, redisstore.Config{}).Tenants()
	_, err := st.Create(ctx, &tenant.Tenant{ID: "acme", Name: "acme", Domain: "mcp.acme.example", Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: "https://idp.acme.example", Audience: "acme"}})
	require.NoError(t, err)
	// What a failed write left: claimed, and listed.
	require.NoError(t, c.Set(ctx, keys.Domain("old.example.com"), "acme", 0).Err())
	require.NoError(t, c.ZAdd(ctx, keys.Domains, redis.Z{Member: "old.example.com"}).Err())
	s := newService(t, Config{Redis: c, MultiTenant: true, BaseDomain: "seed.example.com", UsageInterval: time.Hour})
	waitSubscribed(t, s)
	h := s.Middleware(whoami)

	unregistered := get(h, "nobody.example.org", "/mcp")
	stale := get(h, "old.example.com", "/mcp")
	assert.Equal(t, 400, stale.Code, stale.Body.String())
	assert.Equal(t, unregistered.Body.Bytes(), stale.Body.Bytes())
	assert.Equal(t, 200, get(h, "mcp.acme.example", "/mcp").Code, "the domain the record holds")

	pairs := issuerGetter(staticIssuer("acme"), s.cache)
	_, err = pairs.Get(ctx, "https://idp.other.example\x00other")
	assert.ErrorIs(t, err, tenant.ErrNotFound, "a pair the record does not hold")
	got, err := pairs.Get(ctx, "https://idp.acme.example\x00acme")
	require.NoError(t, err)
	assert.Equal(t, "acme", got.ID)
}

// staticIssuer names one tenant for every issuer and audience.
type staticIssuer string

func (s staticIssuer) LookupIssuer(context.Context, string, string) (string, error) {
	return string(s), nil
}
