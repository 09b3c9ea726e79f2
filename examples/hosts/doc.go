// Package hosts holds five small servers made multi-tenant with this
// module, each written from the README and the packages' documentation
// alone, as tests that show what each one does:
//
//   - servemux_test.go: a JSON API on net/http's ServeMux with package
//     resolve, package middleware and the in-memory store, without the
//     root package's Service (header mode);
//   - gosdk_test.go: an MCP server on the official Go SDK with the whole
//     Service on Redis (miniredis, and a real Redis when
//     TENANCY_REDIS_ADDR is set), bearer tokens of each tenant's own
//     provider and the session guard (subdomain mode);
//   - mcpgo_test.go: an MCP server on github.com/mark3labs/mcp-go with the
//     Service on the in-memory store (header mode);
//   - chi_test.go: a chi v5 router in path mode, which shows how the tenant
//     middleware and the metadata route are wired into chi;
//   - newuser_test.go: a JSON API (not MCP) in path mode with the Service
//     on miniredis, each tenant's bearer tokens, a feature flag read from
//     its settings, the host's own data under the tenant's namespace and
//     the tenant-aware log handler.
//
// The wiring of each host, between its "glue begins" and "glue ends"
// comments, is under 40 lines of code; TestGlueLines counts them.
package hosts
