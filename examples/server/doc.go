// Command server is the tenancy library wired into an MCP server, the way
// Seed uses it: the tenant middleware and per-tenant rate limit in front of
// every tenant-scoped route, the admin API, each tenant's OAuth
// authorization server in front of its identity provider (registration,
// consent, callback, token, revocation), per-tenant protected-resource
// metadata (RFC 9728), and an MCP endpoint served by the official Go SDK
// behind each tenant's bearer check, with one tool, whoami.
//
//	go run ./examples/server
//
// With REDIS_URL unset it starts an embedded Redis (miniredis), so it needs
// nothing else; it listens on a loopback port and wants a password that
// only the server knows. The README walks through a session with curl.
//
// Every environment variable is optional:
//
//	LISTEN_ADDR                    the address to listen on (127.0.0.1:8080)
//	PUBLIC_URL                     the base of the URLs the server gives out
//	                               (http://<LISTEN_ADDR>); in subdomain mode a
//	                               tenant's base is <scheme>://<id>.<base domain>[:<port>]
//	                               with PUBLIC_URL's scheme and port
//	REDIS_URL                      redis://…, several comma-separated addresses
//	                               for a cluster (unset: an embedded Redis)
//	AUTH_REQUIRED                  false lets /mcp through without a token (true)
//	METRICS_ENABLED                serves GET /metrics (false)
//	OIDC_INSECURE_ALLOW_LOOPBACK   lets tenants name providers on loopback (false)
//
// and the library's own, read by tenancy.ConfigFromEnv and named in the
// fields of tenancy.Config: MULTI_TENANT_ENABLED, TENANT_IDENTIFICATION,
// TENANT_BASE_DOMAIN, TENANT_HEADER, TENANT_ADMIN_API_KEY,
// TENANT_TRUSTED_PROXIES, TENANT_ENCRYPTION_KEY, OIDC_ISSUER, OIDC_AUDIENCE,
// OAUTH_AUTHORIZATION_URL, OAUTH_TOKEN_URL, OAUTH_CLIENT_ID,
// OAUTH_CLIENT_SECRET, OAUTH_SCOPES, OAUTH_REVOCATION_URL, DCR_CLIENT_TTL,
// REDIS_SESSION_TTL, TENANT_TRUSTED_PROXY_HEADER, TENANT_USAGE_INTERVAL,
// TENANT_AUDIT_LENGTH and the rest (README's table of environment
// variables lists every one).
//
// Routes outside any tenant are GET /healthz (200 while Redis answers, 503
// otherwise), the admin API under /admin/tenants (tenancy.NewAdminHandler
// lists it) and, when enabled, GET /metrics. Every other route belongs to
// a tenant, sits under the tenant's base (http://<id>.<base domain>/ in
// subdomain mode, /<id>/ in path mode, / with the tenant header in header
// mode) and is behind the tenant's rate limit: the tenant's OAuth
// authorization server (package oauthproxy: POST /oauth/register, RFC
// 7591 client registration; /oauth/authorize, which shows a consent page;
// /oauth/callback, /oauth/token and /oauth/revoke; its metadata, RFC 8414,
// at /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration, in path mode also at
// /.well-known/oauth-authorization-server/<id> and
// /.well-known/openid-configuration/<id>), /mcp (MCP Streamable HTTP behind
// the tenant's bearer check, with the tool whoami) and the tenant's
// protected-resource metadata (RFC 9728) at
// /.well-known/oauth-protected-resource, or
// /.well-known/oauth-protected-resource/<id>/mcp in path mode.
//
// A tenant's authorization server is on when its oidc.clientId names its
// upstream client at its provider (the secret, oidc.clientSecret, is given
// to the admin API in clear and kept sealed with TENANT_ENCRYPTION_KEY); its
// protected-resource metadata then names it, and otherwise the tenant's
// issuer. In single-tenant mode tenant default's upstream client comes
// from OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET (which needs
// TENANT_ENCRYPTION_KEY), OAUTH_SCOPES and OAUTH_REVOCATION_URL.
//
// With METRICS_ENABLED=true (default false) it also serves GET /metrics,
// outside any tenant: request counts and latencies by tenant and status,
// and refusals by reason, from the tenancy.Config.OnRefused hook and a
// wrapper inside the tenant middleware (package examples/metrics). The
// route is not protected and names the tenants, so enable it only on a
// listener that is not reachable from outside.
package main
