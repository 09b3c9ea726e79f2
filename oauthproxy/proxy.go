package oauthproxy

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// The paths the proxy serves under a tenant's base URL.
const (
	RegisterPath            = "/oauth/register"
	AuthorizePath           = "/oauth/authorize"
	CallbackPath            = "/oauth/callback"
	TokenPath               = "/oauth/token"
	RevokePath              = "/oauth/revoke"
	MetadataPath            = "/.well-known/oauth-authorization-server"
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
)

// Defaults of [Config].
const (
	DefaultUpstreamTimeout        = 10 * time.Second
	DefaultDiscoveryTTL           = time.Hour
	DefaultTransactionTTL         = 10 * time.Minute
	DefaultCodeTTL                = time.Minute
	DefaultRefreshTTL             = 720 * time.Hour
	DefaultRegistrationsPerMinute = 20
	DefaultConsentCookie          = "oauth-consent"
)

// Bounds of a registration (RFC 7591), fixed for every tenant.
const (
	// MaxRegistrationBytes bounds the body of a registration; a larger
	// one is answered 413.
	MaxRegistrationBytes = 16 << 10
	// MaxRedirectURIs bounds the redirect URIs of one client.
	MaxRedirectURIs = 10
	// MaxRedirectURILength bounds each redirect URI, in bytes.
	MaxRedirectURILength = 2 << 10
)

// Config configures a [Proxy]. Clients, Grants and URLs are required; every
// other field has a working zero value.
type Config struct {
	// Clients holds each tenant's registered clients (RFC 7591). Required.
	Clients store.Clients
	// Grants holds each tenant's pending authorizations, codes and
	// refresh-token bindings. Required.
	Grants store.Grants
	// URLs gives each tenant's public URLs, the same value as
	// oidcx.BearerConfig.URLs. The issuer of a tenant's authorization
	// server is its base URL: its MCP resource URL without the MCP path.
	// A request's resource parameter (RFC 8707), when it has one, must
	// name the tenant's resource URL. Required.
	URLs oidcx.URLs
	// Keyring opens the tenants' sealed oidc.clientSecret. default: none,
	// and a tenant whose upstream client has a secret cannot complete a
	// login (the failure is logged)
	Keyring *keyring.Keyring
	// CheckProviderURL is the rule every URL of a tenant's provider
	// passes before the proxy sends a request there (each redirect hop
	// included) or sends a browser there. Pass the token verifier's,
	// verifier.CheckProviderURL, so that the proxy and the bearer check
	// follow one rule; a provider on the loopback interface is then
	// reached only when oidcx.Config.InsecureAllowLoopback is set.
	// default: the rule of a verifier of the zero oidcx.Config (https, or
	// http on loopback, and never loopback)
	CheckProviderURL func(rawURL string) error
	// Transport carries the requests to the tenants' providers: discovery,
	// token exchanges, refreshes and revocations. Unlike the token
	// verifier's default transport, http.DefaultTransport does not check
	// the address a provider's name resolves to: where tenant settings
	// come from people who must not reach the server's own network, pass
	// a transport that refuses link-local and loopback addresses.
	// default: http.DefaultTransport
	Transport http.RoundTripper
	// UpstreamTimeout bounds each request to a tenant's provider, so that
	// one slow provider holds up only its own tenant's requests.
	// default: 10 seconds
	UpstreamTimeout time.Duration
	// DiscoveryTTL is how long a tenant's discovered endpoints are used
	// before discovery runs again. default: 1 hour
	DiscoveryTTL time.Duration
	// TransactionTTL is how long an approved authorization waits for the
	// provider's answer. default: 10 minutes
	TransactionTTL time.Duration
	// CodeTTL is how long an authorization code can be redeemed.
	// default: 1 minute
	CodeTTL time.Duration
	// RefreshTTL is how long the binding of a refresh token to its client
	// is kept after the token was issued; the token is refused after it.
	// default: 720 hours (30 days)
	RefreshTTL time.Duration
	// RegistrationsPerMinute bounds the registrations of one client
	// address at one tenant in a minute; -1 turns the limit off. Up to
	// 10,000 addresses are tracked at once. default: 20
	RegistrationsPerMinute int
	// ClientAddr returns the address registrations are counted against.
	// Set it only behind a reverse proxy you trust to report the
	// client's address: a header clients can forge MUST NOT be used
	// otherwise. default: the IP of r.RemoteAddr
	ClientAddr func(r *http.Request) string
	// ConsentCookie names the cookie that binds a consent and its callback
	// to one browser. On an https issuer the name gets the "__Host-"
	// prefix, which keeps other hosts from setting it.
	// default: DefaultConsentCookie ("oauth-consent")
	ConsentCookie string
	// Logger receives one line per login, token and refusal worth an
	// operator's attention; never a token, code, secret or state.
	// default: slog.Default()
	Logger *slog.Logger
	// Now returns the current time. default: time.Now
	Now func() time.Time
	// OnLogin is called for every login completed through a tenant's
	// authorization server (an authorization code redeemed for the
	// provider's tokens), with the client it went through and the subject
	// the provider named: the "sub" of its ID token, or of its access token
	// when that is a JWT, read without checking a signature since it came
	// over the proxy's own TLS connection to the provider (OpenID Connect
	// Core section 3.1.3.7); "" when neither names one. It names who logged
	// in, for records, and grants nothing. It is the hook for usage counts
	// and audit trails; it runs on the request's goroutine, before the
	// answer is written, and should not block for long. default: nil
	OnLogin func(r *http.Request, tenantID, clientID, subject string)
}

// Proxy is each tenant's OAuth authorization server. Create it with [New]
// and mount it behind the tenant middleware; it is safe for concurrent use.
type Proxy struct {
	cfg      Config
	issuer   func(r *http.Request, t *tenant.Tenant) string
	client   *http.Client
	upstream *discovery
	limiter  *registrations
	log      *slog.Logger
	now      func() time.Time
}

var _ http.Handler = (*Proxy)(nil)

// New returns a Proxy configured by cfg, or an error naming the first
// invalid field.
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.Clients == nil:
		return nil, errors.New("oauthproxy: Config.Clients is required")
	case cfg.Grants == nil:
		return nil, errors.New("oauthproxy: Config.Grants is required")
	case cfg.URLs == nil:
		return nil, errors.New("oauthproxy: Config.URLs is required")
	}
	if err := conf.Durations("oauthproxy: Config.", []conf.Duration{
		{Name: "UpstreamTimeout", Value: &cfg.UpstreamTimeout, Default: DefaultUpstreamTimeout},
		{Name: "DiscoveryTTL", Value: &cfg.DiscoveryTTL, Default: DefaultDiscoveryTTL},
		{Name: "TransactionTTL", Value: &cfg.TransactionTTL, Default: DefaultTransactionTTL},
		{Name: "CodeTTL", Value: &cfg.CodeTTL, Default: DefaultCodeTTL},
		{Name: "RefreshTTL", Value: &cfg.RefreshTTL, Default: DefaultRefreshTTL},
	}); err != nil {
		return nil, err
	}
	if cfg.RegistrationsPerMinute < -1 {
		return nil, errors.New("oauthproxy: Config.RegistrationsPerMinute must be -1 (off), 0 (default) or positive")
	}
	cfg.RegistrationsPerMinute = cmp.Or(cfg.RegistrationsPerMinute, DefaultRegistrationsPerMinute)
	cfg.ConsentCookie = cmp.Or(cfg.ConsentCookie, DefaultConsentCookie)
	if !validCookieName(cfg.ConsentCookie) {
		return nil, fmt.Errorf("oauthproxy: Config.ConsentCookie %q is not a cookie name", cfg.ConsentCookie)
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.CheckProviderURL == nil {
		v, err := oidcx.New(oidcx.Config{})
		if err != nil {
			return nil, err
		}
		cfg.CheckProviderURL = v.CheckProviderURL
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = remoteIP
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	conf.Clock(&cfg.Now)
	p := &Proxy{
		cfg:    cfg,
		issuer: issuerFrom(cfg.URLs),
		client: newUpstreamClient(cfg.Transport, cfg.UpstreamTimeout, cfg.CheckProviderURL),
		log:    cfg.Logger,
		now:    cfg.Now,
	}
	p.upstream = newDiscovery(p.client, cfg.CheckProviderURL, cfg.UpstreamTimeout, cfg.DiscoveryTTL, cfg.Now, cfg.Logger)
	p.limiter = newRegistrations(cfg.RegistrationsPerMinute, time.Minute, maxTrackedAddrs)
	return p, nil
}

// Enabled reports whether t's OAuth proxy is on: its oidc.clientId names
// an upstream client. For other tenants only registration is served, and
// their protected-resource metadata names their issuer directly.
func Enabled(t *tenant.Tenant) bool { return t != nil && t.OIDC.ClientID != "" && t.OIDC.Issuer != "" }

// Issuer returns the issuer of t's authorization server, its base URL as
// the request r reached it: "https://acme.seed.example.com",
// "https://seed.example.com/acme", or the shared URL in header mode.
func (p *Proxy) Issuer(r *http.Request, t *tenant.Tenant) string { return p.issuer(r, t) }

// AuthorizationServers returns the authorization servers the
// protected-resource metadata of t names: t's own authorization server
// when its proxy is on, its provider's issuer otherwise. Its signature is
// that of oidcx.MetadataConfig.AuthorizationServers, to which a host that
// runs the proxy hands it.
func (p *Proxy) AuthorizationServers(r *http.Request, t *tenant.Tenant) []string {
	if Enabled(t) {
		return []string{p.issuer(r, t)}
	}
	if t == nil || t.OIDC.Issuer == "" {
		return nil
	}
	return []string{t.OIDC.Issuer}
}

// Invalidate drops what the proxy cached of a tenant: its provider's
// discovered endpoints. Call it when a tenant is updated or deleted, as
// for the token verifiers; a changed issuer takes effect without it.
func (p *Proxy) Invalidate(tenantID string) { p.upstream.forget(tenantID) }

// issuerFrom derives the issuer from the tenant's resource URL, which is
// its base URL followed by the MCP endpoint's path.
func issuerFrom(urls oidcx.URLs) func(*http.Request, *tenant.Tenant) string {
	path := oidcx.DefaultMCPPath
	if e, ok := urls.(*oidcx.ModeURLs); ok && e.Path != "" {
		path = e.Path
	}
	return func(r *http.Request, t *tenant.Tenant) string {
		return strings.TrimSuffix(strings.TrimSuffix(urls.Resource(r, t), path), "/")
	}
}

// ServeHTTP serves the tenant-scoped endpoints, for the tenant the tenant
// middleware put in the request's context:
//
//	GET  /.well-known/oauth-authorization-server   metadata (RFC 8414)
//	GET  /.well-known/openid-configuration         the same document
//	POST /oauth/register                           registration (RFC 7591)
//	GET  /oauth/authorize                          checks, then the consent page
//	POST /oauth/authorize                          the user's decision
//	GET  /oauth/callback                           the provider's answer
//	POST /oauth/token                              authorization_code, refresh_token
//	POST /oauth/revoke                             revocation (RFC 7009)
//
// Any other path is 404. Registration is served for every tenant; the
// other endpoints only for a tenant whose proxy is on ([Enabled]).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, ok := tenant.FromContext(r.Context())
	if !ok {
		p.log.ErrorContext(r.Context(), "oauthproxy: reached without a tenant in the context; mount it behind the tenant middleware",
			"path", r.URL.Path)
		writeJSON(w, http.StatusInternalServerError, bodyServerError)
		return
	}
	var h func(http.ResponseWriter, *http.Request, *tenant.Tenant)
	var methods []string
	switch r.URL.Path {
	case MetadataPath, OpenIDConfigurationPath:
		h, methods = p.metadata, []string{http.MethodGet, http.MethodHead, http.MethodOptions}
	case RegisterPath:
		h, methods = p.register, []string{http.MethodPost, http.MethodOptions}
	case AuthorizePath:
		h, methods = p.authorize, []string{http.MethodGet, http.MethodPost}
	case CallbackPath:
		h, methods = p.callback, []string{http.MethodGet}
	case TokenPath:
		h, methods = p.token, []string{http.MethodPost, http.MethodOptions}
	case RevokePath:
		h, methods = p.revoke, []string{http.MethodPost, http.MethodOptions}
	default:
		writeJSON(w, http.StatusNotFound, bodyNotFound)
		return
	}
	if r.URL.Path != RegisterPath && !Enabled(t) {
		writeJSON(w, http.StatusNotFound, bodyNotFound)
		return
	}
	allow := strings.Join(methods, ", ")
	if slices.Contains(methods, http.MethodOptions) {
		// Browser-based MCP clients read the metadata, register and
		// redeem codes from other origins. None of these endpoints
		// reads a cookie, so any origin may call them.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", allow)
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization, MCP-Protocol-Version")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if !slices.Contains(methods, r.Method) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, bodyMethodNotAllowed)
		return
	}
	h(w, r, t)
}
