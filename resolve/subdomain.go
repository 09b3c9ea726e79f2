package resolve

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// subdomain resolves the tenant from the label in front of a base domain.
type subdomain struct {
	base   string // lower case, without trailing dot
	suffix string // "." + base
}

var _ Resolver = (*subdomain)(nil)

// Subdomain returns a Resolver that reads the tenant ID from the host of a
// request (r.Host): the single label in front of base, so that
// "acme.seed.example.com" is tenant "acme" when base is "seed.example.com".
//
// Host names are case-insensitive (RFC 4343), so the host's ASCII letters are
// folded to lower case, a port and one trailing dot are ignored, and
// "ACME.Seed.Example.com.:8443" is tenant "acme" as well. The resolver
// answers [tenant.ErrMissingID] for an IP address (127.0.0.1:8080, [::1]),
// for the bare base domain and for a host outside the base domain, which a
// [Chain] can then hand to [Domain]. A label that breaks the ID rules
// (including the reserved "admin"), an empty label (".seed.example.com") and
// nested labels ("a.acme.seed.example.com") are invalid identifiers: a host
// under the base domain belongs to this deployment, and a name it does not
// understand is refused rather than guessed at or looked up elsewhere. A
// port that is not a decimal number makes any host malformed (invalid).
//
// base is a DNS name of one or more labels ("localhost" works for
// development); Subdomain returns an error when it is malformed. Resolving a
// lower-case host allocates nothing.
func Subdomain(base string) (Resolver, error) {
	b := asciiLower(strings.TrimSuffix(base, "."))
	if !validBase(b) {
		return nil, fmt.Errorf("resolve: invalid base domain %q", base)
	}
	return &subdomain{base: b, suffix: "." + b}, nil
}

// validBase reports whether b is a lower-case DNS name under which
// tenants' subdomains are domain names (tenant.ValidDomain): labels of a
// domain, and a last label no URL parser reads as part of an IPv4
// address (not "10", nor "0x10").
func validBase(b string) bool {
	return b != "" && tenant.ValidDomain("a."+b)
}

// Resolve returns the label in front of the base domain.
func (s *subdomain) Resolve(r *http.Request) (string, error) {
	name, err := hostName(r.Host)
	if err != nil {
		if errors.Is(err, tenant.ErrInvalidID) {
			return "", invalidID(r.Host, err)
		}
		return "", err
	}
	name = asciiLower(name)
	if !strings.HasSuffix(name, s.suffix) {
		// The bare base domain, or a host outside it.
		return "", tenant.ErrMissingID
	}
	label := name[:len(name)-len(s.suffix)]
	if label == "" {
		return "", invalidID(r.Host, errEmptyLabel)
	}
	if strings.IndexByte(label, '.') >= 0 {
		return "", invalidID(label, errNestedLabel)
	}
	if err := tenant.ValidateID(label); err != nil {
		return "", invalidID(label, err)
	}
	return label, nil
}
