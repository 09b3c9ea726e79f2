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
