// Package netx holds the network rules that several packages of the
// module apply, so that each is written once. It imports only the
// standard library, so that the tenant package, which may depend on
// nothing else, can use it too.
package netx

import (
	"net"
	"strings"
)

// IsLoopback reports whether host (without port or brackets) is
// "localhost", in any case, or a loopback IP address (127.0.0.0/8, ::1).
// It is the rule for plain http: an identity provider's URL and an OAuth
// client's redirect URI (RFC 8252 section 7.3) may use http only on such
// a host.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackName reports whether host names the loopback interface: what
// IsLoopback accepts and, since RFC 6761 section 6.3 keeps every name
// under "localhost" on the loopback interface, those names too (such as
// acme.localhost), in any case and with or without a final dot. It is the
// rule for a host that no DNS answer can point elsewhere.
func IsLoopbackName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return IsLoopback(h) || strings.HasSuffix(h, ".localhost")
}
