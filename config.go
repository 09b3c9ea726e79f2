package tenancy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/redisx"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/seedmcp/tenancy/usage"
)

// Identification says where a request names its tenant.
type Identification string

// The identification modes of TENANT_IDENTIFICATION.
const (
	// BySubdomain reads the tenant from the host: acme.<BaseDomain>; other
	// hosts are looked up as tenants' custom domains.
	BySubdomain Identification = "subdomain"
	// ByPath reads the tenant from the first path segment: /acme/mcp. The
	// host's handlers see the path without it (/mcp).
	ByPath Identification = "path"
	// ByHeader reads the tenant from a header (Config.Header).
	ByHeader Identification = "header"
	// ByToken reads the tenant from the request's bearer token: the
	// tenant whose oidc.issuer and oidc.audience are the token's iss and
	// one of its aud (see resolve.Token), for clients that cannot vary
	// the host, the path or a header. The token is read unverified only
	// to pick the tenant; the bearer middleware then verifies it against
	// that tenant's provider as in every mode. A request without a token
	// has no tenant (400), so put every tenant route behind the bearer
	// middleware. The store's tenant registry must be a
	// store.IssuerLookup (both stores of this module are).
	ByToken Identification = "token"
)

// Config configures a [Service]. Only a store is required, Redis or
// Store; the zero value of every other field is the documented default,
// which is single-tenant mode.
type Config struct {
	// Redis holds the tenants and their data. A *redis.Client, a Sentinel
	// failover client or a *redis.ClusterClient all work. Either Redis or
	// Store is required, not both.
	Redis redis.UniversalClient
	// Store, when Redis is nil, holds the tenants and their data instead:
	// memstore.New(memstore.Config{}).Backend() for tests and servers of
	// one process, or any other store.Backend. Everything works on it as
	// on Redis, the tenant events included; but a change made through
	// Service.Store() reaches this replica's caches when its event comes
	// back, not at once as with Redis (changes made through the admin API
	// apply at once either way): call Service.Sync to wait for it.
	// default: nil (Redis is used)
	Store store.Backend

	// MultiTenant turns multi-tenancy on. When false every request belongs
	// to tenant "default" (phase 1 of a migration: existing deployments
	// keep working, with their data under tenant:{default}:*).
	// default: false (MULTI_TENANT_ENABLED)
	MultiTenant bool
	// Identification is where requests name their tenant.
	// default: BySubdomain (TENANT_IDENTIFICATION)
	Identification Identification
	// BaseDomain is the domain under which tenants are subdomains.
	// default: "localhost" (TENANT_BASE_DOMAIN)
	BaseDomain string
	// Header is the header that names the tenant in header mode.
	// default: "X-Tenant-ID" (TENANT_HEADER)
	Header string
	// TrustedProxies are the addresses of the reverse proxies in front of
	// the server (as the server sees them connect) and of any proxies
	// between them and the clients. Their TrustedProxyHeader is believed:
	// the host it forwards picks the tenant in subdomain mode, and the
	// client address it forwards is what the admin API counts failed keys
	// against, in every mode. Never list anything a client can connect
	// from: a forged header would pick the tenant and dodge the limit.
	// default: none, no forwarding header is read
	// (TENANT_TRUSTED_PROXIES, comma-separated addresses or prefixes)
	TrustedProxies []netip.Prefix
	// TrustedProxyHeader is the one header the trusted proxies set:
	// resolve.Forwarded (RFC 7239, "for" and "host" in one element) or
	// resolve.XForwarded (X-Forwarded-Host and X-Forwarded-For). The other
	// is ignored, since a proxy passes on whatever a client sent in a
	// header it does not manage. The proxies MUST set the header on every
	// request, replacing or appending to the client's; with several
	// proxies in a row, the element the outermost trusted one added is
	// used (see resolve.Proxies).
	// default: resolve.Forwarded
	// (TENANT_TRUSTED_PROXY_HEADER: Forwarded or X-Forwarded)
	TrustedProxyHeader resolve.ProxyHeader
	// AdminAPIKey opens the admin API to requests that carry it in
	// X-Admin-API-Key. Without it (and without AdminAPIKeys) the admin API
	// answers 503 to everything.
	// default: "" (TENANT_ADMIN_API_KEY: its first comma-separated key)
	AdminAPIKey string
	// AdminAPIKeys are further operator keys, so that a key can be
	// rotated: list the new key beside the old one, move every operator
	// to it, then drop the old one. An operator key appears in logs and
	// audit trails as "operator-<n>", its position counting AdminAPIKey
	// first.
	// default: none (TENANT_ADMIN_API_KEY: the keys after the first)
	AdminAPIKeys []string
	// UsageInterval is how often the usage counted in memory is written
	// to Redis, in one pipeline. A replica that dies without Close loses
	// at most this much of its counts while Redis is up; Close writes
	// everything.
	// default: 10 seconds (TENANT_USAGE_INTERVAL)
	UsageInterval time.Duration
	// AuditLength is the length each tenant's audit trail is capped near
	// (Redis trims whole nodes of a stream, so up to 100 more are kept).
	// default: 10,000 (TENANT_AUDIT_LENGTH)
	AuditLength int

	// Default is tenant "default" as the host configured it before
	// multi-tenancy: its OIDC settings (OIDC_ISSUER, OIDC_AUDIENCE,
	// OAUTH_AUTHORIZATION_URL, OAUTH_TOKEN_URL), the upstream client of
	// its OAuth authorization server (OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET,
	// which ConfigFrom seals with EncryptionKeys, OAUTH_SCOPES,
	// OAUTH_REVOCATION_URL; see [Service.OAuthProxy]) and limits. It is
	// served in single-tenant mode when the store has no tenant "default";
	// ID, Name and Status are filled in when empty. Like any tenant the
	// store does not hold, it then has no usage and no audit trail: what
	// the Service counts and records for it is dropped until its record
	// is created (with these settings) through the admin API. In
	// multi-tenant mode it is not used.
	Default tenant.Tenant

	// EncryptionKeys seal tenant secrets at rest: the oidc.clientSecret
	// the admin API accepts in clear, and OAUTH_CLIENT_SECRET (see
	// [Service.OAuthProxy]). The first key seals, every key opens.
	// default: none; a client secret is then refused
	// (TENANT_ENCRYPTION_KEY: comma-separated keys, keyring.Parse)
	EncryptionKeys *keyring.Keyring

	// ClientTTL is the lifetime of a registered OAuth client.
	// default: 720 hours (DCR_CLIENT_TTL)
	ClientTTL time.Duration
	// SessionTTL is the sliding lifetime of a session.
	// default: 24 hours (REDIS_SESSION_TTL)
	SessionTTL time.Duration

	// Cache tunes the tenant cache; see middleware.CacheConfig.
	Cache middleware.CacheConfig
	// OIDC tunes the per-tenant token verifiers; see oidcx.Config.
	OIDC oidcx.Config
	// Logger receives audit lines and errors.
	// default: slog.Default()
	Logger *slog.Logger
	// OnRefused is called for every request refused by the tenant or rate
	// limit middleware, for auditing.
	// default: middleware.LogRefusal(Logger)
	OnRefused func(*http.Request, middleware.Refusal)
	// OnServed is called for every request that gets through the tenant
	// middleware, for per-tenant metrics and billing. It runs before the
	// rate limit, so it also sees the requests the rate limit then refuses
	// (429), which the served requests of [Service.Usage] do not include.
	// default: nil
	OnServed func(*http.Request, *tenant.Tenant)
}

// ConfigFromEnv reads a Config from the environment variables named in the
// field comments of [Config]. A malformed value is an error naming the
// variable and what it accepts. The caller still sets Config.Redis (or
// Config.Store).
func ConfigFromEnv() (Config, error) {
	return ConfigFrom(os.Getenv)
}

// ConfigFrom is [ConfigFromEnv] reading the variables through getenv, for
// hosts that keep their settings elsewhere and for tests.
func ConfigFrom(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	fail := func(name, value, accepted string) {
		errs = append(errs, fmt.Errorf("tenancy: %s=%q is invalid: accepted values are %s", name, value, accepted))
	}
	if v := getenv("MULTI_TENANT_ENABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail("MULTI_TENANT_ENABLED", v, "true or false")
		}
		c.MultiTenant = b
	}
	if v := getenv("TENANT_IDENTIFICATION"); v != "" {
		c.Identification = Identification(v)
		switch c.Identification {
		case BySubdomain, ByPath, ByHeader, ByToken:
		default:
			fail("TENANT_IDENTIFICATION", v, "subdomain, path, header or token")
		}
	}
	if v := getenv("TENANT_BASE_DOMAIN"); v != "" {
		if _, err := resolve.Subdomain(v); err != nil {
			fail("TENANT_BASE_DOMAIN", v, "a DNS name such as seed.example.com")
		}
		c.BaseDomain = v
	}
	if v := getenv("TENANT_HEADER"); v != "" {
		if _, err := resolve.Header(v); err != nil {
			fail("TENANT_HEADER", v, "a header name of your own such as X-Tenant-ID (not Host, Authorization, Cookie, Forwarded, X-Forwarded-* or a header that frames the message)")
		}
		c.Header = v
	}
	if v := getenv("TENANT_TRUSTED_PROXIES"); v != "" {
		for _, s := range strings.Split(v, ",") {
			p, err := parsePrefix(strings.TrimSpace(s))
			if err != nil {
				fail("TENANT_TRUSTED_PROXIES", v, "comma-separated IP addresses or prefixes such as 10.0.0.0/8")
				break
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if v := getenv("TENANT_TRUSTED_PROXY_HEADER"); v != "" {
		h, ok := parseProxyHeader(v)
		if !ok {
			fail("TENANT_TRUSTED_PROXY_HEADER", v, "Forwarded or X-Forwarded (the pair X-Forwarded-Host and X-Forwarded-For)")
		}
		c.TrustedProxyHeader = h
	}
	if v := getenv("TENANT_ADMIN_API_KEY"); v != "" {
		// Several keys, comma-separated, for rotation. A key cannot
		// hold a comma; blanks around each are dropped.
		var keys []string
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			fail("TENANT_ADMIN_API_KEY", "…", "one or more comma-separated keys")
		} else {
			c.AdminAPIKey, c.AdminAPIKeys = keys[0], keys[1:]
		}
	}
	if v := getenv("TENANT_USAGE_INTERVAL"); v != "" {
		dur, err := time.ParseDuration(v)
		if err != nil || dur < time.Second {
			fail("TENANT_USAGE_INTERVAL", v, "a Go duration of at least 1s such as 10s or 1m")
		}
		c.UsageInterval = dur
	}
	if v := getenv("TENANT_AUDIT_LENGTH"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail("TENANT_AUDIT_LENGTH", v, "a positive integer such as 10000")
		}
		c.AuditLength = n
	}
	c.Default.OIDC = tenant.OIDC{
		Issuer:           getenv("OIDC_ISSUER"),
		Audience:         getenv("OIDC_AUDIENCE"),
		AuthorizationURL: getenv("OAUTH_AUTHORIZATION_URL"),
		TokenURL:         getenv("OAUTH_TOKEN_URL"),
	}
	errs = append(errs, oauthFromEnv(getenv, &c)...)
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"DCR_CLIENT_TTL", &c.ClientTTL}, {"REDIS_SESSION_TTL", &c.SessionTTL}} {
		if v := getenv(d.name); v != "" {
			dur, err := time.ParseDuration(v)
			if err != nil || dur <= 0 {
				fail(d.name, v, "a positive Go duration such as 720h or 30m")
			}
			*d.dst = dur
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// parsePrefix accepts "10.0.0.0/8" as well as a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseProxyHeader reads TENANT_TRUSTED_PROXY_HEADER. Header names are
// case-insensitive, and either name of the X-Forwarded pair stands for
// the pair.
func parseProxyHeader(v string) (resolve.ProxyHeader, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "forwarded":
		return resolve.Forwarded, true
	case "x-forwarded", "x-forwarded-host", "x-forwarded-for":
		return resolve.XForwarded, true
	}
	return "", false
}

// proxies returns the trusted proxies of c, whose fields withDefaults has
// checked.
func (c Config) proxies() (*resolve.Proxies, error) {
	p, err := resolve.NewProxies(resolve.ProxyConfig{Trusted: c.TrustedProxies, Header: c.TrustedProxyHeader})
	if err != nil {
		return nil, fmt.Errorf("tenancy: TrustedProxies, TrustedProxyHeader: %w", err)
	}
	return p, nil
}

// clientAddr returns the function the admin API counts failed keys by:
// the client address the trusted proxies report, the peer's otherwise.
func (c Config) clientAddr() func(*http.Request) string {
	p, err := c.proxies()
	if err != nil {
		// withDefaults has refused such a configuration already.
		return nil
	}
	return p.ClientAddr
}

// withDefaults returns c with every default filled in, or an error for a
// field no default can repair.
func (c Config) withDefaults() (Config, error) {
	if c.Redis != nil && redisx.IsNil(c.Redis) {
		// A nil *redis.Client in the interface: not unset, not usable.
		return c, errors.New("tenancy: Config.Redis is a nil client")
	}
	switch {
	case c.Redis == nil && c.Store == nil:
		return c, errors.New("tenancy: Config.Redis or Config.Store is required")
	case c.Redis != nil && c.Store != nil:
		return c, errors.New("tenancy: set Config.Redis or Config.Store, not both")
	}
	if c.Identification == "" {
		c.Identification = BySubdomain
	}
	if c.BaseDomain == "" {
		c.BaseDomain = "localhost"
	}
	if c.Header == "" {
		c.Header = "X-Tenant-ID"
	}
	if c.ClientTTL <= 0 {
		c.ClientTTL = 720 * time.Hour
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 24 * time.Hour
	}
	if c.TrustedProxyHeader == "" {
		c.TrustedProxyHeader = resolve.Forwarded
	}
	if c.UsageInterval <= 0 {
		c.UsageInterval = usage.DefaultInterval
	}
	if c.AuditLength <= 0 {
		c.AuditLength = store.DefaultAuditLength
	}
	if _, err := c.proxies(); err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OnRefused == nil {
		c.OnRefused = middleware.LogRefusal(c.Logger)
	}
	d := &c.Default
	if d.ID == "" {
		d.ID = tenant.DefaultID
	}
	if d.Name == "" {
		d.Name = "Default"
	}
	if d.Status == "" {
		d.Status = tenant.StatusActive
	}
	if d.ID != tenant.DefaultID {
		return c, fmt.Errorf("tenancy: Config.Default.ID must be %q", tenant.DefaultID)
	}
	if err := d.Validate(); err != nil {
		return c, fmt.Errorf("tenancy: Config.Default (from OIDC_ISSUER, OIDC_AUDIENCE, OAUTH_*): %w", err)
	}
	return c, nil
}

// endpoints returns the public URLs of the tenants' MCP endpoints and
// metadata in the configured mode, under publicURL. Single-tenant mode has
// one tenant and no tenant in its URLs, like header and token modes.
func (c Config) endpoints(publicURL string) (*oidcx.ModeURLs, error) {
	if !c.MultiTenant {
		return oidcx.HeaderURLs(publicURL)
	}
	switch c.Identification {
	case BySubdomain:
		u, err := oidcx.SubdomainURLs(publicURL, c.BaseDomain)
		if err != nil || len(c.TrustedProxies) == 0 {
			return u, err
		}
		// Behind the proxies a custom domain is the forwarded host.
		p, err := c.proxies()
		if err != nil {
			return nil, err
		}
		u.RequestHost = p.Host
		return u, nil
	case ByPath:
		return oidcx.PathURLs(publicURL)
	}
	return oidcx.HeaderURLs(publicURL)
}

// resolver builds the Resolver of the configured mode. lookup resolves
// custom domains in subdomain mode, issuers the tenants of tokens in token
// mode (nil when the store cannot).
func (c Config) resolver(lookup resolve.DomainLookup, issuers resolve.IssuerLookup) (resolve.Resolver, error) {
	if !c.MultiTenant {
		return resolve.Static(tenant.DefaultID)
	}
	var r resolve.Resolver
	switch c.Identification {
	case BySubdomain:
		sub, err := resolve.Subdomain(c.BaseDomain)
		if err != nil {
			return nil, fmt.Errorf("tenancy: BaseDomain: %w", err)
		}
		r = resolve.Chain(sub, resolve.Domain(lookup))
		if len(c.TrustedProxies) > 0 {
			p, err := c.proxies()
			if err != nil {
				return nil, err
			}
			r = p.Resolver(r)
		}
	case ByPath:
		r = resolve.Path()
	case ByHeader:
		h, err := resolve.Header(c.Header)
		if err != nil {
			return nil, fmt.Errorf("tenancy: Header: %w", err)
		}
		r = h
	case ByToken:
		if issuers == nil {
			return nil, errors.New("tenancy: Identification token needs a tenant registry that is a store.IssuerLookup")
		}
		r = resolve.Token(issuers)
	default:
		return nil, fmt.Errorf("tenancy: unknown Identification %q (subdomain, path, header or token)", c.Identification)
	}
	return r, nil
}
