package resolve

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// header resolves the tenant from a request header.
type header struct {
	name string // canonical, so Resolve can index r.Header directly
}

var _ Resolver = (*header)(nil)

// Header returns a Resolver that reads the tenant ID from the request header
// name, such as "X-Tenant-ID". The name is canonicalised once, here, and
// Header returns an error when it is empty or not a valid field name
// (RFC 9110 section 5.1), or names a header that cannot carry a tenant:
// one net/http takes out of the header map (Host) or that frames the
// message, one that carries credentials (Authorization, Cookie), whose
// value a refusal would then log, or one a proxy sets (Forwarded,
// X-Forwarded-*).
//
// The header must appear exactly once and its value must already be a
// canonical ID: an absent or empty header is a missing identifier, while a
// repeated header or a value such as "ACME", " acme" or "acme, beta" is an
// invalid one. Values are neither trimmed nor folded, because an alias
// accepted today is a compatibility promise tomorrow. Resolving a value
// allocates nothing; a refusal allocates the [InvalidError] that names it.
func Header(name string) (Resolver, error) {
	if !validToken(name) {
		return nil, fmt.Errorf("resolve: invalid header name %q", name)
	}
	name = http.CanonicalHeaderKey(name)
	if unfitHeaders[name] || strings.HasPrefix(name, "X-Forwarded-") {
		return nil, fmt.Errorf("resolve: header %q cannot carry the tenant ID", name)
	}
	return &header{name: name}, nil
}

// unfitHeaders are the headers, canonical, that Header refuses besides
// X-Forwarded-*.
var unfitHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Proxy-Connection": true,
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"Forwarded": true,
}

// Resolve returns the header's single value.
func (h *header) Resolve(r *http.Request) (string, error) {
	values := r.Header[h.name]
	switch {
	case len(values) == 0:
		return "", tenant.ErrMissingID
	case len(values) > 1:
		return "", invalidID(values[0], errRepeated)
	case values[0] == "":
		return "", tenant.ErrMissingID
	}
	if err := tenant.ValidateID(values[0]); err != nil {
		return "", invalidID(values[0], err)
	}
	return values[0], nil
}

// validToken reports whether s is a token (RFC 9110 section 5.6.2), the
// grammar of header field names and of Forwarded parameter names.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte marks the tchar bytes of RFC 9110 section 5.6.2.
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
