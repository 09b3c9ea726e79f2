// Package oidcx verifies bearer tokens against each tenant's own OpenID
// Connect provider, and serves each tenant's OAuth 2.0 protected-resource
// metadata (RFC 9728), as the MCP authorization specification asks of a
// server.
//
// A [Verifier] keeps one verifier per tenant, built from the tenant's
// [tenant.OIDC] settings on first use: its JSON Web Key Set, fetched from
// the JWKS URI when one is set, otherwise found by discovery (go-oidc)
// from the issuer. Concurrent first uses share one build, which runs on
// its own deadline so that no client's hang-up fails the others; a
// provider that fails is not asked again before a back-off has passed.
// Cached verifiers are looked up by tenant ID and compared with the
// tenant's current settings, so a changed issuer takes effect on the next
// request. A token naming a key ID the tenant does not publish triggers at
// most one JWKS fetch per refresh interval. No lock is held across a
// network call: one tenant's slow provider never delays another tenant.
//
// A token is accepted when it is a JWT in the compact serialization whose
// registered claims have their JSON types (an exp that is a string is
// refused) and whose members are not repeated, its signature verifies
// with one of the tenant's keys under an asymmetric algorithm (never
// "none", never HMAC), its iss is the tenant's issuer, its aud contains
// the tenant's audience, and it is within its lifetime give or take
// [Config.Skew]. Everything but the signature is checked first, so a token
// that could never be accepted is refused without a fetch, also while the
// provider is down. A token verified once is remembered, by its SHA-256,
// and served from memory for the same tenant and settings until its exp
// ([Config.TokenCacheEntries]): an MCP client that sends the same token
// with every request pays the signature check once.
//
// # A tenant's provider is untrusted input
//
// Whoever manages a tenant chooses its provider, and a provider can turn
// hostile. What one can cost the server is bounded:
//
//   - its key set: at most [MaxKeys] signing keys are kept, from the first
//     128 entries, RSA keys up to 4096 bits, key IDs up to 256 bytes;
//     keys another key makes useless are dropped, and only the members
//     verification uses are read (no certificate chain is parsed or
//     kept). A token is checked against one key at most: the first of its
//     key ID, or, for a token without one, the only key of its algorithm
//     (none when the set has several);
//   - its answers: a body of at most 1 MiB, and 256 bytes of a failed
//     one; a header of at most 64 KiB (with the default transport);
//   - its fetches: at most one per [Config.KeyRefreshInterval], or per
//     back-off while it fails, kept apart from the verifier cache
//     ([Config.MaxTracked]) so that forged tokens over more tenants than
//     the cache holds fetch nothing more;
//   - its memory: the verifier cache is bounded in entries and bytes
//     ([Config.MaxEntries], [Config.MaxBytes]);
//   - its log lines: the bearer middleware logs a failure once, so once
//     per back-off period, cut to a few hundred bytes.
//
// # What is fetched, and from where
//
// A tenant's identity provider is configured by whoever manages the
// tenant, so every fetch is held to one rule, [Verifier.CheckProviderURL],
// on every hop: the tenant's issuer and JWKS URI, the jwks_uri of its
// discovery document, and each redirect (at most 5). A URL passes when:
//
//	scheme  https; http only on loopback
//	host    a DNS name or an IP address; never unspecified (0.0.0.0, ::),
//	        link-local (169.254.0.0/16, where cloud metadata services
//	        answer; fe80::/10), multicast, an IPv6 zone, or a name ending
//	        in a number ("2130706433"); loopback (127.0.0.0/8, ::1,
//	        "localhost" and names under it) only with
//	        Config.InsecureAllowLoopback
//	port    any, 1 to 65535: on-premise providers listen on many
//
// Since a DNS name can point anywhere, the default transport checks the
// address it connects to as well: never unspecified, link-local or
// multicast, and loopback only with InsecureAllowLoopback. Private
// addresses (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7) are
// allowed, by URL and at connection time: on-premise providers live there.
// A deployment whose private network holds services a tenant must not
// reach sends the fetches through an egress proxy (HTTPS_PROXY) that
// refuses them; the proxy itself may have any address.
//
// A host wires it behind the tenant middleware, which puts the tenant in
// the request context:
//
//	v, err := oidcx.New(oidcx.Config{})
//	urls, err := oidcx.SubdomainURLs("https://seed.example.com", "seed.example.com")
//	auth, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: v, URLs: urls})
//	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
//	mux.Handle("/mcp", tenantMiddleware(auth(mcpHandler)))
//	mux.Handle(oidcx.WellKnownPath, tenantMiddleware(meta))
//	// when a tenant is updated or deleted, and after missed events:
//	v.Invalidate(id)
//	v.InvalidateAll()
//
// The handler then finds the token's claims with [ClaimsFromContext].
//
// The bearer middleware answers:
//
//	situation                                  status  body
//	no tenant in the context (a wiring         500     {"error":"server_error"}, logged
//	  mistake: it belongs behind the tenant
//	  middleware)
//	no Authorization header, or another scheme 401     {"error":"unauthorized"}
//	two Authorization headers, or a Bearer     400     {"error":"invalid_request"}
//	  credential that is not one b64token
//	token refused (any reason), or presented   401     {"error":"invalid_token"}
//	  to a tenant without OIDC settings
//	tenant's provider unreachable or backing   503     {"error":"temporarily_unavailable"},
//	  off (the token may be valid)                     Retry-After, logged
//
// Tokens in the query string are never read. A tenant without OIDC
// settings refuses every request unless [BearerConfig.InsecureAllowAnonymous]
// is set.
//
// Every 400 and 401 carries a challenge naming the tenant's metadata
// document (see [Challenge]):
//
//	WWW-Authenticate: Bearer resource_metadata="https://acme.example.com/.well-known/oauth-protected-resource", error="invalid_token"
//
// The package [github.com/seedmcp/tenancy/oidcx/oidctest] runs an identity
// provider for tests.
package oidcx
