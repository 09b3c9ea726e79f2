package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Each tenant's OAuth authorization server (package oauthproxy), wired to
// the Service:
//
//	urls, _ := svc.URLs("https://seed.example.com")
//	proxy, err := svc.OAuthProxy(oauthproxy.Config{URLs: urls})
//	meta, _ := oidcx.MetadataHandler(oidcx.MetadataConfig{
//		URLs: urls, AuthorizationServers: proxy.AuthorizationServers,
//	})
//	scoped := http.NewServeMux() // the tenant's routes, behind svc.Middleware
//	scoped.Handle("/oauth/", proxy)
//	scoped.Handle(oauthproxy.MetadataPath, proxy)
//	scoped.Handle(oauthproxy.OpenIDConfigurationPath, proxy)
//	scoped.Handle("/mcp", bearer(mcpHandler))
//	for _, rt := range svc.OAuthMetadataRoutes(proxy) {
//		mux.Handle(rt.Pattern, rt.Handler)
//	}
//	mux.Handle(svc.MetadataRoute(meta))
//	mux.Handle("/", svc.Middleware(scoped))
//
// A tenant's proxy is on when its oidc.clientId names its upstream client
// at its provider; its oidc.clientSecret is sealed with
// Config.EncryptionKeys (the admin API does it).

// loginRecordTimeout bounds the audit write of one login, which the
// answer to the client waits for.
const loginRecordTimeout = 2 * time.Second

// OAuthProxy returns each tenant's OAuth authorization server, built from
// cfg with the Service's parts in every field left zero:
//
//   - Clients and Grants: the Service's store, in each tenant's namespace
//     (a cascade delete takes them with the tenant);
//   - Keyring: Config.EncryptionKeys, which opens the tenants' sealed
//     oidc.clientSecret;
//   - CheckProviderURL: the token verifier's rule, so that the proxy
//     reaches exactly the providers the bearer check does (loopback only
//     with Config.OIDC.InsecureAllowLoopback);
//   - ClientAddr: the client address the trusted proxies report
//     (Config.TrustedProxies), which registrations are counted by;
//   - Logger: Config.Logger.
//
// cfg.URLs is required: the value of [Service.URLs] for the host's
// public URL. Every login is counted in the tenant's usage and written to
// its audit trail (client ID and subject) before cfg.OnLogin, if any, is
// called. A tenant's cached provider endpoints are dropped when the
// tenant is updated or deleted, on every replica.
//
// Call it once, and mount the proxy behind [Service.Middleware] at
// "/oauth/" and at the two well-known paths of [oauthproxy.MetadataPath]
// and [oauthproxy.OpenIDConfigurationPath], and the routes of
// [Service.OAuthMetadataRoutes] on the outer mux.
func (s *Service) OAuthProxy(cfg oauthproxy.Config) (*oauthproxy.Proxy, error) {
	if cfg.URLs == nil {
		return nil, errors.New("tenancy: OAuthProxy: Config.URLs is required (Service.URLs)")
	}
	if cfg.Clients == nil {
		cfg.Clients = s.store.Clients()
	}
	if cfg.Grants == nil {
		cfg.Grants = s.store.Grants()
	}
	if cfg.Keyring == nil {
		cfg.Keyring = s.cfg.EncryptionKeys
	}
	if cfg.CheckProviderURL == nil {
		cfg.CheckProviderURL = s.verifier.CheckProviderURL
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = s.cfg.clientAddr()
	}
	if cfg.Logger == nil {
		cfg.Logger = s.cfg.Logger
	}
	cfg.OnLogin = s.recordLogin(cfg.OnLogin)
	p, err := oauthproxy.New(cfg)
	if err != nil {
		return nil, err
	}
	s.OnEvent(func(e store.Event) {
		if e.Type == store.EventUpdated || e.Type == store.EventDeleted {
			p.Invalidate(e.TenantID)
		}
	})
	return p, nil
}

// recordLogin returns the OnLogin hook of the Service's proxies: the
// login counted and written to the tenant's audit trail, then next.
func (s *Service) recordLogin(next func(*http.Request, string, string, string)) func(*http.Request, string, string, string) {
	return func(r *http.Request, tenantID, clientID, subject string) {
		s.usage.Login(tenantID)
		// The trail logs its own failures; a login is not refused for
		// them, and a client hanging up does not cancel the write.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), loginRecordTimeout)
		_ = s.trail.Login(ctx, tenantID, clientID, subject)
		cancel()
		if next != nil {
			next(r, tenantID, clientID, subject)
		}
	}
}

// OAuthMetadataRoutes returns the routes that serve each tenant's
// authorization server metadata (RFC 8414) at the well-known URLs clients
// try, in the configured mode, behind the tenant middleware. Mount them
// on the outer mux, outside [Service.Middleware], like
// [Service.MetadataRoute]:
//
//	for _, rt := range svc.OAuthMetadataRoutes(proxy) {
//		mux.Handle(rt.Pattern, rt.Handler)
//	}
//
// In subdomain and header modes (and in single-tenant mode) they are
// /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration on the tenant's host. In path mode the
// issuer https://seed.example.com/acme has its metadata at
// /.well-known/oauth-authorization-server/acme and
// /.well-known/openid-configuration/acme (the well-known segment goes in
// front of the issuer's path), which these routes serve; the third
// location, /acme/.well-known/openid-configuration, is under the tenant's
// base, where the proxy mounted behind the middleware answers it.
func (s *Service) OAuthMetadataRoutes(proxy http.Handler) []oauthproxy.Route {
	return oauthproxy.MetadataRoutes(proxy, s.Middleware, s.cfg.MultiTenant && s.cfg.Identification == ByPath)
}

// oauthFromEnv reads TENANT_ENCRYPTION_KEY into c.EncryptionKeys and, for
// tenant default, the upstream client of its OAuth proxy:
// OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET (sealed here with the keys, so the
// secret in clear is kept nowhere), OAUTH_SCOPES (space- or
// comma-separated) and OAUTH_REVOCATION_URL. It runs after the OIDC_*
// variables were read into c.Default. No error quotes a key or the
// secret.
func oauthFromEnv(getenv func(string) string, c *Config) []error {
	var errs []error
	if v := getenv("TENANT_ENCRYPTION_KEY"); strings.TrimSpace(v) != "" {
		ring, err := keyring.Parse(v)
		if err != nil {
			// keyring's errors name the position of a bad key, never
			// the key.
			errs = append(errs, fmt.Errorf("tenancy: TENANT_ENCRYPTION_KEY is invalid (%w): accepted values are comma-separated keys of 32 bytes, each as 64 hex digits or in base64 (openssl rand -base64 32)", err))
		}
		c.EncryptionKeys = ring
	}
	o := &c.Default.OIDC
	o.ClientID = getenv("OAUTH_CLIENT_ID")
	o.RevocationURL = getenv("OAUTH_REVOCATION_URL")
	if v := getenv("OAUTH_SCOPES"); v != "" {
		list := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
		for _, sc := range list {
			if !tenant.ValidScope(sc) {
				errs = append(errs, fmt.Errorf("tenancy: OAUTH_SCOPES=%q is invalid: accepted values are OAuth scopes separated by spaces or commas, such as \"openid profile\"", v))
				list = nil
				break
			}
		}
		o.Scopes = tenant.Scopes(strings.Join(list, " "))
	}
	if secret := getenv("OAUTH_CLIENT_SECRET"); secret != "" {
		switch {
		case o.ClientID == "":
			errs = append(errs, errors.New("tenancy: OAUTH_CLIENT_SECRET is set without OAUTH_CLIENT_ID: the secret belongs to the upstream client OAUTH_CLIENT_ID names"))
		case c.EncryptionKeys.Len() == 0:
			errs = append(errs, errors.New("tenancy: OAUTH_CLIENT_SECRET needs TENANT_ENCRYPTION_KEY: the secret is kept sealed with it, like every tenant's"))
		default:
			sealed, err := c.EncryptionKeys.Seal(secret, tenant.ClientSecretContext(tenant.DefaultID))
			if err != nil {
				errs = append(errs, fmt.Errorf("tenancy: OAUTH_CLIENT_SECRET: %w", err))
			}
			o.ClientSecret = sealed
		}
	}
	return errs
}
