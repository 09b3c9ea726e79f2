// Package oauthproxy gives each tenant its own OAuth 2.1 authorization
// server in front of the tenant's identity provider, so that an MCP client
// given only a tenant's MCP URL completes the MCP authorization flow
// against that tenant's provider, even one that does not let clients
// register themselves.
//
// MCP clients register with the proxy (RFC 7591); the proxy reaches the
// provider as the tenant's one upstream client (oidc.clientId, with
// oidc.clientSecret sealed by package keyring). A login runs:
//
//	client   GET  /oauth/authorize (PKCE S256)   -> consent page (who asks, where the answer goes)
//	browser  POST /oauth/authorize (approve)     -> provider's authorization endpoint (the proxy's own PKCE)
//	provider GET  /oauth/callback?code&state     -> code exchanged at the provider (golang.org/x/oauth2)
//	browser  -> client's redirect URI ?code&state&iss  (the proxy's one-time code)
//	client   POST /oauth/token                   -> the provider's tokens
//
// An authorization request that fails a check before the user has seen
// the consent page is answered with a page, never a redirect, unless the
// client's redirect URI is a loopback address (a native application):
// anyone may register a client, and an automatic redirect would let them
// send a browser from the tenant's address to a site of their choosing
// (RFC 9700 section 4.11.2). The page links to the client's redirect URI
// with the error, for the user to follow. Once the user acted on the
// consent page, errors go to the client at once, as RFC 6749 asks.
//
// The access token is the provider's own, so the tenant's bearer check
// (package oidcx) accepts it unchanged. Refresh tokens are bound to the
// client they were issued to, sent to the provider on use, and rotated
// with it; a rotated token presented again (one of the login's last eight),
// or presented twice at once, revokes every token rotated from the same
// login (RFC 9700 section 4.14.2). POST /oauth/revoke
// drops a binding (a refresh token's with its family) and revokes at the
// provider the tokens the proxy issued to the client asking, and no other.
// Each tenant's authorization server metadata (RFC 8414) is served at
// every well-known URL clients try; see [MetadataRoutes].
//
// Everything a login leaves behind lives in the tenant's namespace
// ([store.Grants]): a pending authorization (10 minutes, single use), a
// code (60 seconds, single use) and each token's binding to its client
// (a refresh token's and, for its lifetime, an access token's), under
// IDs derived from the secrets the client holds and sealed with keys
// derived from them, so the store holds no readable code or token. A
// cascade delete of the tenant removes them, and nothing of one tenant is
// found through another. No log line carries a token, a code, a state or
// a secret.
//
// A host wires it beside the tenant middleware:
//
//	p, err := oauthproxy.New(oauthproxy.Config{
//		Clients: st.Clients(), Grants: st.Grants(), URLs: urls, Keyring: ring,
//	})
//	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{
//		URLs: urls, AuthorizationServers: p.AuthorizationServers,
//	})
//	scoped.Handle("/oauth/", p)
//	scoped.Handle(oauthproxy.MetadataPath, p)
//	scoped.Handle(oauthproxy.OpenIDConfigurationPath, p)
//	for _, rt := range oauthproxy.MetadataRoutes(p, svc.Middleware, pathMode) {
//		mux.Handle(rt.Pattern, rt.Handler)
//	}
//	mux.Handle("/", svc.Middleware(scoped))
//
// The scopes asked of the provider are the tenant's oidc.scopes (default
// "openid"), shown on the consent page and published as scopes_supported;
// a client's scope parameter is checked for its syntax and not forwarded.
// The provider must accept the callback <issuer>/oauth/callback of every
// URL the tenant is reached at (its custom domain too) as a redirect URI
// of the tenant's upstream client.
//
// In header mode the browser's requests (the consent and the callback)
// must carry the tenant header like every other request: whatever sets it
// in front of the server sets it on them too.
//
// The proxy is on for a tenant whose oidc.clientId is set ([Enabled]);
// for the others it serves registration only, and their protected-resource
// metadata names their provider directly.
package oauthproxy
