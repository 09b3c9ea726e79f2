package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/seedmcp/tenancy/tenant"
)

// DomainLookup returns the ID of the tenant whose custom domain is host, a
// valid lower-case host name without port or trailing dot (see
// [tenant.ValidDomain]). When no tenant has the domain it returns an error
// wrapping [tenant.ErrNotFound] (or, equally, "" and a nil error). Any other
// error means the answer is unknown, for instance because the store is
// unreachable.
type DomainLookup func(ctx context.Context, host string) (string, error)

// domain resolves the tenant from a custom domain.
type domain struct {
	lookup DomainLookup
}

var _ Resolver = (*domain)(nil)

// Domain returns a Resolver for tenants' custom domains: it looks the
// request's host up with lookup, under the request's context. The host is
// normalised as [Subdomain] does (ASCII case folded, port and trailing dot
// removed); IP addresses and hosts that are not valid domain names are a
// missing identifier without a lookup, so hostile bytes never reach the
// store.
//
// An unknown domain is [tenant.ErrMissingID]. Any other failure of lookup is
// returned wrapped in [ErrLookup] (and still matches the lookup's own error
// with [errors.Is]); the middleware answers it with 503. An ID from lookup
// that breaks the ID rules is refused as an invalid identifier. Domain
// panics when lookup is nil.
//
// A store's lookup reads the domain's claim alone (see
// store.Tenants.LookupDomain): a lookup that wraps it checks that the
// tenant found still has host as its domain, or a stale claim leads to
// whoever holds the ID now. The root package's Service does.
func Domain(lookup DomainLookup) Resolver {
	if lookup == nil {
		panic("resolve: Domain with a nil lookup")
	}
	return &domain{lookup: lookup}
}

// Resolve looks the request's host up.
func (d *domain) Resolve(r *http.Request) (string, error) {
	name, err := hostName(r.Host)
	if err != nil {
		return "", err
	}
	name = asciiLower(name)
	if !tenant.ValidDomain(name) {
		return "", tenant.ErrMissingID
	}
	id, err := d.lookup(r.Context(), name)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		return "", tenant.ErrMissingID
	case err != nil:
		return "", fmt.Errorf("%w: %q: %w", ErrLookup, name, err)
	case id == "":
		return "", tenant.ErrMissingID
	}
	if err := tenant.ValidateID(id); err != nil {
		return "", fmt.Errorf("resolve: domain %q maps to %q: %w", name, id, err)
	}
	return id, nil
}
