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

// The sentinels that wrap others are made here rather than in their
// declarations, so that the documentation shows each as the error it is,
// not how it is built.
func init() {
	ErrTenantNotFound = wrapping("store: tenant not found", ErrNotFound, tenant.ErrNotFound)
	ErrTenantExists = wrapping("store: tenant already exists", ErrExists, tenant.ErrExists)
	ErrDomainExists = wrapping("store: domain already taken", ErrExists, tenant.ErrExists)
	ErrIssuerAudienceExists = wrapping("store: oidc issuer and audience already used by another tenant", ErrExists, tenant.ErrExists)
	ErrOwnerLimit = wrapping("store: owner's session limit reached", ErrLimit)
}

// sentinelError is a sentinel that wraps others, so that one value matches
// each of them with [errors.Is] while keeping a message of its own
// (errors.Join would print every message, one a line).
type sentinelError struct {
	msg   string
	wraps []error
}

func wrapping(msg string, wraps ...error) error { return &sentinelError{msg, wraps} }

func (e *sentinelError) Error() string { return e.msg }

func (e *sentinelError) Unwrap() []error { return e.wraps }
