// Package oidctest runs a test OpenID Connect identity provider, for the
// tests of code that verifies tokens with [github.com/seedmcp/tenancy/oidcx].
//
// [New] starts an httptest server that serves OIDC discovery and a JSON Web
// Key Set, and closes it when the test ends. The server signs tokens with
// the claims a test chooses, rotates its keys, can be made slow or
// unavailable, and counts the requests it served, so that a test can assert
// how often a verifier went to the network. It listens on 127.0.0.1, which
// a verifier reaches only when told to (oidcx.Config.InsecureAllowLoopback;
// tenancy.Config.OIDC for a Service):
//
//	idp := oidctest.New(t)
//	tn.OIDC = idp.OIDC("my-audience")            // a tenant that trusts it
//	claims := idp.Claims("my-audience", "alice") // iss, aud, sub, iat, exp
//	claims["scope"] = "tools:read"
//	token := idp.Token(claims)                   // RS256, current key
//	...
//	idp.Rotate()                                 // new keys, old ones still published
//	idp.SetDown(true)                            // every endpoint answers 503
//	n := idp.JWKSRequests()
//
// It is also an OAuth 2.0 authorization server, for tests of the whole
// authorization code flow without a network: an authorization endpoint
// whose login is automatic (it signs in the subject [Server.SetSubject]
// chose, or refuses when [Server.SetDenyLogin] says so), a token endpoint
// for the authorization_code grant with PKCE (S256) and the refresh_token
// grant with rotation, a revocation endpoint (RFC 7009), and discovery
// naming them all. Clients are registered by the test:
//
//	idp.RegisterClient(oidctest.Client{ID: "app", RedirectURIs: []string{cb}, Audience: "api"})
//	cfg := &oauth2.Config{ClientID: "app", RedirectURL: cb, Endpoint: oauth2.Endpoint{
//		AuthURL: idp.AuthorizeURL(), TokenURL: idp.TokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
//	// GET cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)) redirects
//	// at once to cb?code=…&state=…&iss=…
//	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
//
// The access tokens it issues carry the client's Audience and verify with
// [github.com/seedmcp/tenancy/oidcx] like those of [Server.Token].
//
// It also forges the tokens a verifier must refuse: [Server.NoneToken],
// [Server.HS256Token] (signed with the public key as an HMAC secret) and
// [Server.TokenWithKeyID] (an unknown key ID).
//
// Methods that sign panic on failure rather than returning errors, so they
// can be called from any goroutine. This package is for tests only.
package oidctest
