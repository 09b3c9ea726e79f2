package resolve

import (
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// hostName returns the host name in a Host header value (RFC 9110 section
// 7.2): without its port and without one trailing dot, in the case it was
// sent in. An empty host or an IP literal (127.0.0.1, [::1], bare ::1) has
// no name and yields [tenant.ErrMissingID]; a port that is not a decimal
// number makes the host malformed. It never allocates.
func hostName(host string) (string, error) {
	if host == "" || host[0] == '[' {
		return "", tenant.ErrMissingID
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if strings.IndexByte(host[:i], ':') >= 0 {
			// Several colons without brackets: an IPv6 address.
			return "", tenant.ErrMissingID
		}
		if !digits(host[i+1:]) {
			return "", errMalformedHost
		}
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return "", tenant.ErrMissingID
	}
	// A top-level domain is never all digits (RFC 3696 section 2), so a
	// name whose last label is all digits is an IPv4 address. Checking it
	// this way, rather than with netip.ParseAddr, keeps the common path free
	// of the allocation a parse error costs.
	if digits(host[strings.LastIndexByte(host, '.')+1:]) {
		return "", tenant.ErrMissingID
	}
	return host, nil
}

// digits reports whether s is empty or only ASCII digits. An empty port
// ("acme.example.com:") is allowed by RFC 3986 section 3.2.3.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// asciiLower folds the ASCII upper-case letters of s and leaves every other
// byte alone. Unicode case folding would be wrong here: it maps the Kelvin
// sign (U+212A) to 'k' and so would let a non-ASCII host alias a tenant. It
// returns s itself, without allocating, when s has no upper-case letter.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
