package resolve

import (
	"errors"
	"net/http"

	"github.com/seedmcp/tenancy/tenant"
)

// chain tries its resolvers in order.
type chain []Resolver

var (
	_ Resolver = chain(nil)
	_ Rewriter = chain(nil)
)

// Chain returns a Resolver that tries rs in order and returns the first ID
// found. A resolver that answers [tenant.ErrMissingID] passes the request on
// to the next one; any other error (an invalid identifier, a failed lookup)
// stops the chain and is returned, because a malformed value is a mistake to
// report, not a reason to guess with another resolver. When every resolver
// misses, or rs is empty, the chain answers [tenant.ErrMissingID].
//
// The typical chain serves tenants' subdomains first and their custom
// domains second:
//
//	resolve.Chain(sub, resolve.Domain(lookup))
//
// The chain is also a [Rewriter]: Rewrite finds the resolver that matched (by
// resolving again) and, when that resolver is a Rewriter, delegates to it.
// Chain panics when one of rs is nil.
func Chain(rs ...Resolver) Resolver {
	for _, r := range rs {
		if r == nil {
			panic("resolve: Chain with a nil Resolver")
		}
	}
	return chain(append([]Resolver(nil), rs...))
}

// Resolve returns the ID found by the first resolver that finds one.
func (c chain) Resolve(r *http.Request) (string, error) {
	_, id, err := c.match(r)
	return id, err
}

// Rewrite delegates to the resolver that resolves r to id, if it is a
// Rewriter, and otherwise returns r.
func (c chain) Rewrite(r *http.Request, id string) *http.Request {
	m, got, err := c.match(r)
	if err != nil || got != id {
		return r
	}
	if rw, ok := m.(Rewriter); ok {
		return rw.Rewrite(r, id)
	}
	return r
}

// match returns the first resolver that finds an ID, with the ID. The ID is
// checked again so that the chain keeps the Resolver contract even when one
// of its members is a third-party implementation that does not.
func (c chain) match(r *http.Request) (Resolver, string, error) {
	for _, res := range c {
		id, err := res.Resolve(r)
		if errors.Is(err, tenant.ErrMissingID) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if err := tenant.ValidateID(id); err != nil {
			return nil, "", err
		}
		return res, id, nil
	}
	return nil, "", tenant.ErrMissingID
}
