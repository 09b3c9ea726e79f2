// Command idp runs a test identity provider on a fixed address: the
// authorization server of package oidcx/oidctest, whose login is
// automatic (every authorization signs in one user at once), for trying
// a tenant's OAuth authorization server by hand without a real provider.
// The README's walkthrough of an MCP client's login uses it.
//
//	IDP_CLIENT_ID=seed-acme IDP_REDIRECT_URI=http://acme.localhost:8080/oauth/callback go run ./examples/idp
//
// Its issuer is http://<IDP_ADDR>; it serves OpenID Connect discovery,
// keys, /authorize, /token (authorization code with PKCE S256, refresh
// with rotation) and /revoke. Environment:
//
//	IDP_ADDR            the address to listen on (127.0.0.1:9000)
//	IDP_CLIENT_ID       the one client it knows: the tenant's upstream
//	                    client, the tenant's oidc.clientId (required)
//	IDP_CLIENT_SECRET   its secret, the tenant's oidc.clientSecret (none:
//	                    a public client)
//	IDP_REDIRECT_URI    its redirect URIs, comma-separated: the callback
//	                    of the tenant's authorization server,
//	                    <tenant base URL>/oauth/callback (required)
//	IDP_AUDIENCE        the aud of its access tokens, the tenant's
//	                    oidc.audience (IDP_CLIENT_ID)
//	IDP_SUBJECT         the user every login signs in (test-user)
//
// A server reaches it on the loopback interface only when it allows that
// (the example server's OIDC_INSECURE_ALLOW_LOOPBACK=true). It is for
// development and tests: it logs anyone in.
package main
