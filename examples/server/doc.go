// Command server is the tenancy library wired into an MCP server, the way
// Seed uses it: the tenant middleware and per-tenant rate limit in front of
// every tenant-scoped route, the admin API, RFC 7591 client registration and
// an authorization redirect per tenant, per-tenant protected-resource
// metadata (RFC 9728), and an MCP endpoint served by the official Go SDK
// behind each tenant's bearer check, with one tool, whoami.
//
//	go run ./examples/server
//
// With REDIS_URL unset it starts an embedded Redis (miniredis), so it needs
// nothing else; the README walks through a session with curl. The
// environment variables and the routes are those of DESIGN.md section 8.
//
// With METRICS_ENABLED=true (default false) it also serves GET /metrics,
// outside any tenant: request counts and latencies by tenant and status,
// and refusals by reason, from the tenancy.Config.OnRefused hook and a
// wrapper inside the tenant middleware (package examples/metrics). The
// route is not protected and names the tenants, so enable it only on a
// listener that is not reachable from outside.
package main
