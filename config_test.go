package tenancy

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnvDefaults(t *testing.T) {
	c, err := ConfigFrom(env(nil))
	require.NoError(t, err)
	assert.False(t, c.MultiTenant)
	assert.Empty(t, c.AdminAPIKey)

	c.Redis = fakeRedis(t)
	c, err = c.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, BySubdomain, c.Identification)
	assert.Equal(t, "localhost", c.BaseDomain)
	assert.Equal(t, "X-Tenant-ID", c.Header)
	assert.Equal(t, 720*time.Hour, c.ClientTTL)
	assert.Equal(t, 24*time.Hour, c.SessionTTL)
	assert.Equal(t, "default", c.Default.ID)
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	c, err := ConfigFrom(env(map[string]string{
		"MULTI_TENANT_ENABLED":    "true",
		"TENANT_IDENTIFICATION":   "header",
		"TENANT_BASE_DOMAIN":      "seed.example.com",
		"TENANT_HEADER":           "X-Org",
		"TENANT_ADMIN_API_KEY":    "s3cret",
		"TENANT_TRUSTED_PROXIES":  "10.0.0.0/8, 192.0.2.7",
		"OIDC_ISSUER":             "https://auth.example.com",
		"OIDC_AUDIENCE":           "seed",
		"OAUTH_AUTHORIZATION_URL": "https://auth.example.com/authorize",
		"OAUTH_TOKEN_URL":         "https://auth.example.com/token",
		"DCR_CLIENT_TTL":          "48h",
		"REDIS_SESSION_TTL":       "30m",
	}))
	require.NoError(t, err)
	assert.True(t, c.MultiTenant)
	assert.Equal(t, ByHeader, c.Identification)
	assert.Equal(t, "seed.example.com", c.BaseDomain)
	assert.Equal(t, "X-Org", c.Header)
	assert.Equal(t, "s3cret", c.AdminAPIKey)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}, c.TrustedProxies)
	assert.Equal(t, "https://auth.example.com", c.Default.OIDC.Issuer)
	assert.Equal(t, "seed", c.Default.OIDC.Audience)
	assert.Equal(t, "https://auth.example.com/authorize", c.Default.OIDC.AuthorizationURL)
	assert.Equal(t, "https://auth.example.com/token", c.Default.OIDC.TokenURL)
	assert.Equal(t, 48*time.Hour, c.ClientTTL)
	assert.Equal(t, 30*time.Minute, c.SessionTTL)
}

func TestConfigFromEnvNamesTheBadVariable(t *testing.T) {
	tests := []struct{ name, value, accepted string }{
		{"MULTI_TENANT_ENABLED", "yes please", "true or false"},
		{"TENANT_IDENTIFICATION", "cookie", "subdomain, path, header or token"},
		{"TENANT_BASE_DOMAIN", "exa mple..com", "DNS name"},
		{"TENANT_HEADER", "X Tenant", "header name of your own"},
		{"TENANT_HEADER", "Authorization", "header name of your own"},
		{"TENANT_BASE_DOMAIN", "a.0x10", "DNS name"},
		{"TENANT_TRUSTED_PROXIES", "10.0.0.0/8,everyone", "prefixes"},
		{"DCR_CLIENT_TTL", "forever", "duration"},
		{"REDIS_SESSION_TTL", "-1h", "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFrom(env(map[string]string{tt.name: tt.value}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.name)
			assert.Contains(t, err.Error(), tt.accepted)
		})
	}
}

func TestConfigDefaultTenantIsValidated(t *testing.T) {
	c, err := ConfigFrom(env(map[string]string{"OIDC_ISSUER": "http://auth.example.com", "OIDC_AUDIENCE": "seed"}))
	require.NoError(t, err)
	c.Redis = fakeRedis(t)
	_, err = c.withDefaults()
	assert.ErrorContains(t, err, "oidc.issuer")

	_, err = Config{}.withDefaults()
	assert.ErrorContains(t, err, "Config.Redis or Config.Store is required")
	_, err = Config{Redis: fakeRedis(t), Store: memstore.New(memstore.Config{}).Backend()}.withDefaults()
	assert.ErrorContains(t, err, "not both")
	var nilClient *redis.Client
	_, err = New(Config{Redis: nilClient})
	assert.ErrorContains(t, err, "Config.Redis is a nil client", "an error from New, not a panic")
}

func TestNewWarnsWithoutDefaultProvider(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	s, err := New(Config{Redis: fakeRedis(t), Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	assert.Contains(t, buf.String(), "single-tenant mode without OIDC settings")

	buf.Reset()
	s, err = New(Config{Redis: fakeRedis(t), Logger: logger, Default: tenant.Tenant{
		OIDC: tenant.OIDC{Issuer: "https://auth.example.com", Audience: "seed"}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	assert.NotContains(t, buf.String(), "without OIDC settings")
}
