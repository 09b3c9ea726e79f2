package tenancy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/tenant"
)

func TestConfigTrustedProxyHeader(t *testing.T) {
	for value, want := range map[string]resolve.ProxyHeader{
		"Forwarded":          resolve.Forwarded,
		"forwarded":          resolve.Forwarded,
		"X-Forwarded":        resolve.XForwarded,
		" x-forwarded-host ": resolve.XForwarded,
		"X-Forwarded-For":    resolve.XForwarded,
	} {
		c, err := ConfigFrom(env(map[string]string{"TENANT_TRUSTED_PROXY_HEADER": value}))
		require.NoError(t, err, value)
		assert.Equal(t, want, c.TrustedProxyHeader, value)
	}
	for _, value := range []string{"X-Real-IP", "Forwarded, X-Forwarded", "true"} {
		_, err := ConfigFrom(env(map[string]string{"TENANT_TRUSTED_PROXY_HEADER": value}))
		require.Error(t, err, value)
		assert.Contains(t, err.Error(), "TENANT_TRUSTED_PROXY_HEADER", value)
	}

	// Forwarded by default; a header that is neither is refused by New.
	s := newService(t, Config{Redis: fakeRedis(t)})
	assert.Equal(t, resolve.Forwarded, s.Config().TrustedProxyHeader)
	_, err := New(Config{Redis: fakeRedis(t), TrustedProxyHeader: "X-Real-IP", Logger: quiet})
	assert.Error(t, err)
	_, err = New(Config{Redis: fakeRedis(t), TrustedProxies: []netip.Prefix{{}}, Logger: quiet})
	assert.Error(t, err)
}

// adminAttempt sends one admin request from a peer, with forwarding
// headers as name, value pairs.
func adminAttempt(s *Service, peer, key string, headers ...string) int {
	req := httptest.NewRequest(http.MethodGet, "/admin/tenants", nil)
	req.RemoteAddr = peer
	req.Header.Set(AdminKeyHeader, key)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.Admin().ServeHTTP(w, req)
	return w.Code
}

// TestAdminLockoutBehindProxy is the regression test of the failed-key
// limit counted by the socket address: behind a reverse proxy every
// request came from the proxy, so one outsider's ten wrong keys locked out
// every operator. The address is now the client the trusted proxy names,
// in the one header it is configured to set.
func TestAdminLockoutBehindProxy(t *testing.T) {
	const (
		key      = "the-admin-key-0123456789abcdef"
		proxy    = "10.0.0.2:40000"
		attacker = "198.51.100.66"
		operator = "192.0.2.10"
	)
	for _, tc := range []struct {
		header   resolve.ProxyHeader
		name     string // the header the proxy sets
		attacker string
		operator string
	}{
		{resolve.Forwarded, "Forwarded", "for=" + attacker, "for=" + operator},
		{resolve.XForwarded, "X-Forwarded-For", attacker, operator},
	} {
		t.Run(string(tc.header), func(t *testing.T) {
			s := newService(t, Config{
				Redis:              fakeRedis(t),
				AdminAPIKey:        key,
				TrustedProxies:     []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
				TrustedProxyHeader: tc.header,
			})
			for range 10 {
				require.Equal(t, http.StatusUnauthorized, adminAttempt(s, proxy, "wrong", tc.name, tc.attacker))
			}
			assert.Equal(t, http.StatusTooManyRequests, adminAttempt(s, proxy, key, tc.name, tc.attacker),
				"the attacker is locked out")
			assert.Equal(t, http.StatusOK, adminAttempt(s, proxy, key, tc.name, tc.operator),
				"an operator behind the same proxy is not")
			// The client's own entry, forged to look like the operator,
			// sits left of the one the proxy appended: ignored.
			forged := tc.name
			assert.Equal(t, http.StatusTooManyRequests,
				adminAttempt(s, proxy, key, forged, tc.operator, forged, tc.attacker))
		})
	}
}

// TestAdminLockoutIgnoresForgedHeaders: a forwarding header is believed
// only from a trusted proxy, and only the configured one, so a client that
// rotates made-up addresses in it is still counted by its own.
func TestAdminLockoutIgnoresForgedHeaders(t *testing.T) {
	const key = "the-admin-key-0123456789abcdef"
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		header  resolve.ProxyHeader
		peer    string
		forge   string // the header the client forges
	}{
		{"no trusted proxies", nil, "", "198.51.100.66:5000", "X-Forwarded-For"},
		{"no trusted proxies, Forwarded", nil, "", "198.51.100.66:5000", "Forwarded"},
		{"untrusted peer", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, resolve.XForwarded, "198.51.100.66:5000", "X-Forwarded-For"},
		// From the trusted proxy, the header it does not set is whatever
		// the client sent: all of them share the proxy's address.
		{"the other header", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, resolve.XForwarded, "10.0.0.2:40000", "Forwarded"},
		{"the other header, X-Forwarded-For", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, resolve.Forwarded, "10.0.0.2:40000", "X-Forwarded-For"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newService(t, Config{Redis: fakeRedis(t), AdminAPIKey: key, TrustedProxies: tc.trusted, TrustedProxyHeader: tc.header})
			forged := func(i int) string {
				addr := "203.0.113." + strconv.Itoa(i+1)
				if tc.forge == "Forwarded" {
					return "for=" + addr
				}
				return addr
			}
			for i := range 10 {
				require.Equal(t, http.StatusUnauthorized, adminAttempt(s, tc.peer, "wrong", tc.forge, forged(i)))
			}
			assert.Equal(t, http.StatusTooManyRequests, adminAttempt(s, tc.peer, key, tc.forge, forged(10)))
		})
	}
}

// TestResolverReadsOnlyTheConfiguredHeader is the regression test of a
// client-sent Forwarded header winning over the X-Forwarded-Host that the
// trusted proxy set: the client picked its tenant.
func TestResolverReadsOnlyTheConfiguredHeader(t *testing.T) {
	for _, tc := range []struct {
		header resolve.ProxyHeader
		set    []string // what the proxy sets
		forged []string // what the client sent, passed on by the proxy
	}{
		{resolve.XForwarded, []string{"X-Forwarded-Host", "acme.seed.example.com"}, []string{"Forwarded", "host=beta.seed.example.com"}},
		{resolve.Forwarded, []string{"Forwarded", "for=192.0.2.10;host=acme.seed.example.com"}, []string{"X-Forwarded-Host", "beta.seed.example.com"}},
	} {
		t.Run(string(tc.header), func(t *testing.T) {
			s := newService(t, Config{
				Redis:              fakeRedis(t),
				MultiTenant:        true,
				BaseDomain:         "seed.example.com",
				TrustedProxies:     []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
				TrustedProxyHeader: tc.header,
			})
			createTenant(t, s, "acme")
			createTenant(t, s, "beta")
			req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
			req.Host = "internal-lb:8080"
			req.RemoteAddr = "10.0.0.2:40000"
			req.Header.Set(tc.forged[0], tc.forged[1])
			req.Header.Set(tc.set[0], tc.set[1])
			w := httptest.NewRecorder()
			s.Middleware(whoami).ServeHTTP(w, req)
			assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, "acme /mcp", w.Body.String())
		})
	}
}

// TestCustomDomainURLsBehindProxy: behind a trusted proxy that rewrites
// Host, a tenant reached at its custom domain is given the URLs of that
// domain (its resource, its metadata), which is what an MCP client checks
// against the URL it connected to (RFC 9728 section 3.3); a client that
// forges the header from elsewhere is given the tenant's subdomain.
func TestCustomDomainURLsBehindProxy(t *testing.T) {
	s := newService(t, Config{
		Redis: fakeRedis(t), MultiTenant: true, Identification: BySubdomain, BaseDomain: "seed.example.com",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	urls, err := s.URLs("https://seed.example.com")
	require.NoError(t, err)
	acme := &tenant.Tenant{ID: "acme", Domain: "mcp.acme.com"}
	for _, tc := range []struct {
		name, peer, host, forwarded, want string
	}{
		{"through the proxy", "10.0.0.1:1234", "backend:8080", "for=192.0.2.1;host=mcp.acme.com;proto=https", "https://mcp.acme.com/mcp"},
		{"through the proxy, at the subdomain", "10.0.0.1:1234", "backend:8080", "for=192.0.2.1;host=acme.seed.example.com", "https://acme.seed.example.com/mcp"},
		{"forged from elsewhere", "198.51.100.66:5000", "backend:8080", "host=mcp.acme.com", "https://acme.seed.example.com/mcp"},
		{"direct", "192.0.2.1:5000", "mcp.acme.com", "", "https://mcp.acme.com/mcp"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		r.Host, r.RemoteAddr = tc.host, tc.peer
		if tc.forwarded != "" {
			r.Header.Set("Forwarded", tc.forwarded)
		}
		assert.Equal(t, tc.want, urls.Resource(r, acme), tc.name)
	}
}
