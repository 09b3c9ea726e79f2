// Command loadtest puts the example server (examples/server) under a
// bounded load on a real Redis, with many tenants, and optionally injects
// one fault in the middle of it. It checks every answer against the tenant
// the request was sent to, and reports throughput, latency, Redis commands
// per request, the server's goroutines and memory over time, and what the
// clients saw around the fault, second by second.
//
//	go run ./tools/loadtest -scenario steady -duration 90s
//	go run ./tools/loadtest -scenario redis-restart
//	eval "$(scripts/redis-up.sh)"
//	go run ./tools/loadtest -scenario cluster -redis-url "redis://${TENANCY_REDIS_CLUSTER_ADDRS//,/,}"
//
// It builds the server, runs it as a child process in path mode with
// METRICS_ENABLED=true (its GET /metrics gives the goroutine count and heap
// in use), starts a few test identity providers (oidcx/oidctest) and a
// private redis-server on a free port (unless -redis-url names one, which
// it flushes), creates the tenants through the admin API, each with its
// own audience, and sends traffic from a fixed number of workers on
// loopback only, for a fixed time. Every process it starts, it stops.
//
// Three tenants in four have an upstream client (oidc.clientId) at their
// provider, which the provider (oidctest's authorization server, whose
// login is automatic) knows with the tenant's callback: their OAuth
// authorization server is on. Two of them have a confidential client
// whose endpoints are found by discovery (the server seals the secrets
// with TENANT_ENCRYPTION_KEY), one a public client with the endpoints in
// its settings. The fourth has none: its metadata names its provider, and
// its authorization server only registers clients (authorize is 404).
//
// The work of a worker, to a tenant picked at random each time (-mix
// sets the shares): the protected-resource metadata; an MCP session with
// a token minted for the tenant (initialize, initialized, whoami, delete);
// or a login as an MCP client and its user's browser do it: registration,
// the consent page, approval (to the provider), the provider's login, the
// callback, the token endpoint, an MCP session with the token, and the
// revocation of the refresh token. One login in four also presents its
// client, and its token, to another tenant, which must know neither.
//
// Every answer is judged against the tenant it was sent to. An expected
// answer includes the refusals the server owes: 404 of authorize without
// an upstream client, and 429 (with Retry-After) of the registration
// limit once 20 registrations from this one address reached the tenant
// within a minute (oauthproxy.Config.RegistrationsPerMinute, which the
// example server leaves at its default). A cross-tenant answer is one
// that carries another tenant's data: metadata, a consent page, a
// redirect, a 401 challenge or a whoami naming another tenant, or a
// client or token of one tenant accepted by another. Refusals never are;
// they are at worst unexpected answers. The command exits 1 when there
// was a cross-tenant answer or a registered client was lost.
//
// Scenarios: steady (load only), redis-restart (SHUTDOWN SAVE of the
// private redis-server, then a restart on the same port and data),
// idp-down and idp-slow (one tenant's identity provider answers 503, or
// after 10 s), suspend-delete (one tenant suspended, then deleted, through
// the admin API), cluster (-redis-url with the cluster's addresses: every
// client connection of one master killed, then another master stopped
// with SIGSTOP for 2 s).
//
// The same run is available as a test that only runs when TENANCY_LOAD=1,
// so that it never runs in ordinary CI:
//
//	TENANCY_LOAD=1 go test -run TestLoad -v -timeout 15m ./tools/loadtest
package main
