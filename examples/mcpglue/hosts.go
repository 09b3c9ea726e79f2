// Package mcpglue holds what the glue of every MCP SDK shares, and its
// sub-packages the glue of each SDK: gosdk for the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) and mcpgo for
// github.com/mark3labs/mcp-go. Each puts the library's session guard
// (package mcpsession) in front of the SDK's Streamable HTTP handler and
// gives it the one thing the guard cannot do alone: end a session in the
// SDK.
//
// This package holds the check that replaces the SDKs' protection against
// DNS rebinding, which refuses the tenants' own host names.
package mcpglue

import (
	"net"
	"net/http"
	"strings"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/internal/netx"
	"github.com/seedmcp/tenancy/tenant"
)

// Hosts is the protection against DNS rebinding of an MCP endpoint that
// serves many tenants. Both SDKs refuse a request that reached a loopback
// address with a Host other than localhost or a loopback IP: a page on
// evil.example whose name an attacker points at 127.0.0.1 must not reach
// a local server with the victim's network position. That check also
// refuses acme.localhost, a tenant's host in subdomain mode, so the glue
// switches the SDK's check off and applies this one.
//
// On a loopback connection it accepts, besides what the SDKs accept: names
// under .localhost (RFC 6761 keeps them on the loopback interface, so no
// attacker can point one elsewhere), the hosts in Public, names under
// BaseDomain, and the request's tenant's own custom domain: all of them
// names the operator controls. Requests that reached a non-loopback address
// are not checked, as in the SDKs. The zero Hosts accepts loopback names,
// names under .localhost and the tenants' custom domains.
type Hosts struct {
	// Public are the hosts, with their port when not the scheme's default
	// (seed.example.com, 127.0.0.1:8080), of the URLs the server is
	// reached at: the host of PUBLIC_URL.
	Public []string
	// BaseDomain accepts every name under it: the base domain of subdomain
	// mode (TENANT_BASE_DOMAIN), empty in the other modes.
	BaseDomain string
}

// Allowed reports whether r may be served.
func (h Hosts) Allowed(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil || !netx.IsLoopback(splitHost(local.String())) {
		return true
	}
	for _, p := range h.Public {
		if strings.EqualFold(r.Host, p) {
			return true
		}
	}
	host := strings.TrimSuffix(strings.ToLower(splitHost(r.Host)), ".")
	base := strings.TrimSuffix(strings.ToLower(h.BaseDomain), ".")
	switch {
	case netx.IsLoopbackName(host):
		return true
	case base != "" && strings.HasSuffix(host, "."+base):
		return true
	}
	t, ok := tenant.FromContext(r.Context())
	return ok && t.Domain != "" && host == t.Domain
}

// Check answers 403 to the requests Allowed refuses, with a JSON body, and
// passes the others to next.
func (h Hosts) Check(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Allowed(r) {
			httpx.Error(w, http.StatusForbidden, "invalid Host header")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// splitHost returns the host of host:port, or s when it has no port.
func splitHost(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return strings.Trim(s, "[]")
}
