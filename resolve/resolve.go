package resolve

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/seedmcp/tenancy/tenant"
)

// Resolver finds the tenant identifier of a request.
//
// Resolve returns a valid tenant ID (one that passes [tenant.ValidateID]) and
// a nil error, or an empty string and an error: [tenant.ErrMissingID] when the
// request carries no identifier, an error wrapping [tenant.ErrInvalidID] when
// the identifier is malformed (the resolvers of this package return an
// [*InvalidError] that names it), and any other error (such as [ErrLookup]) when
// the resolver could not decide. The tenant middleware answers the first two
// with distinct 400 responses and the last with 503. A Resolver only reads the
// request; it never modifies it.
type Resolver interface {
	Resolve(r *http.Request) (string, error)
}

// Rewriter is implemented by resolvers that take the identifier out of the
// request, such as [Path]. After a successful resolution the tenant middleware
// passes the request and the resolved ID to Rewrite and serves the request it
// returns, so the host application mounts its routes once (/mcp) rather than
// once per tenant (/{tenant}/mcp).
//
// Rewrite never modifies r: it returns a shallow copy, or r itself when there
// is nothing to rewrite.
type Rewriter interface {
	Rewrite(r *http.Request, id string) *http.Request
}

// Func adapts an ordinary function to the [Resolver] interface. The ID the
// function returns with a nil error is checked with [tenant.ValidateID], so a
// Func keeps the Resolver contract even when the function does not.
type Func func(r *http.Request) (string, error)

var _ Resolver = Func(nil)

// Resolve calls f(r) and refuses an ID that breaks the ID rules.
func (f Func) Resolve(r *http.Request) (string, error) {
	id, err := f(r)
	if err != nil {
		return "", err
	}
	if err := tenant.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}

// InvalidError is the error of a malformed identifier. It wraps the precise
// cause, which wraps [tenant.ErrInvalidID], and keeps the identifier as the
// request carried it, so that an audit log can show what was refused
// (errors.As). The identifier is hostile input: it may be huge or hold any
// byte, so log it escaped and truncated (the tenant middleware does), and
// never use it as an ID.
type InvalidError struct {
	// Identifier is the refused value: a header value, a path segment, a
	// subdomain label or a host.
	Identifier string
	// Err is the cause; it wraps tenant.ErrInvalidID.
	Err error
}

func (e *InvalidError) Error() string { return e.Err.Error() }

func (e *InvalidError) Unwrap() error { return e.Err }

// invalidID returns the InvalidError of raw. It is the one allocation of a
// refusal.
func invalidID(raw string, err error) error {
	return &InvalidError{Identifier: raw, Err: err}
}

// ErrLookup wraps the error of a [DomainLookup] or an [IssuerLookup] that
// failed for another reason than an unknown domain or issuer (the store is
// unreachable, for instance). The identifier is neither missing nor
// invalid: the tenant could not be determined at all, and the middleware
// answers 503.
var ErrLookup = errors.New("resolve: lookup failed")

// Preallocated errors, so that refusing a malformed request costs no
// allocation: a flood of hostile requests must stay cheap to answer.
var (
	errMalformedHost = fmt.Errorf("%w: malformed host", tenant.ErrInvalidID)
	errNestedLabel   = fmt.Errorf("%w: nested subdomain", tenant.ErrInvalidID)
	errEmptyLabel    = fmt.Errorf("%w: empty subdomain label", tenant.ErrInvalidID)
	errRepeated      = fmt.Errorf("%w: repeated tenant header", tenant.ErrInvalidID)
	errForwarded     = fmt.Errorf("%w: malformed Forwarded header", tenant.ErrInvalidID)
	errXForwarded    = fmt.Errorf("%w: malformed X-Forwarded-Host header", tenant.ErrInvalidID)
)
