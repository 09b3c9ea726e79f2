package store

import "github.com/seedmcp/tenancy/tenant"

// Errors about tenants that match two sentinels at once: the store's
// ([ErrNotFound], [ErrExists]) and the tenant package's ([tenant.ErrNotFound],
// [tenant.ErrExists]). Callers that only know the tenant package (resolvers,
// the tenant middleware) and callers that only know this package both match
// them with [errors.Is]. Implementations wrap them with %w, usually adding
// the ID, domain or issuer.
//
// Errors about clients and sessions match only [ErrNotFound] or
// [ErrExists]: a missing session must never look like a missing tenant.
var (
	// ErrTenantNotFound means no tenant has the ID, or no tenant has the
	// custom domain.
	ErrTenantNotFound error
	// ErrTenantExists means a tenant with the ID already exists.
	ErrTenantExists error
	// ErrDomainExists means another tenant already has the custom domain.
	ErrDomainExists error
	// ErrIssuerAudienceExists means another tenant already trusts the same
	// OIDC issuer with the same audience. Two such tenants would accept
	// each other's tokens, so the pair is unique like a domain.
	ErrIssuerAudienceExists error
)

// The pairs are made here rather than in their declarations, so that the
// documentation shows each as the error it is, not how it is built.
func init() {
	ErrTenantNotFound = &pairError{"store: tenant not found", ErrNotFound, tenant.ErrNotFound}
	ErrTenantExists = &pairError{"store: tenant already exists", ErrExists, tenant.ErrExists}
	ErrDomainExists = &pairError{"store: domain already taken", ErrExists, tenant.ErrExists}
	ErrIssuerAudienceExists = &pairError{"store: oidc issuer and audience already used by another tenant", ErrExists, tenant.ErrExists}
}

// pairError is a sentinel that wraps two others, so that one value matches
// both with [errors.Is] while keeping a readable message (errors.Join
// would print both messages on two lines).
type pairError struct {
	msg        string
	this, that error
}

func (e *pairError) Error() string { return e.msg }

func (e *pairError) Unwrap() []error { return []error{e.this, e.that} }
