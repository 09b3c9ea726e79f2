package resolve

import (
	"errors"
	"net/http"

	"github.com/seedmcp/tenancy/tenant"
)

// chain tries its resolvers in order.
type chain struct {
	rs []Resolver
	// rewriters is the length of the shortest prefix of rs that holds every
	// Rewriter. A request resolved by a later member has nothing to
	// rewrite, so Rewrite never resolves past it: Chain(sub, Domain(lookup))
	// does not look a custom domain up a second time.
	rewriters int
}

var (
	_ Resolver = (*chain)(nil)
	_ Rewriter = (*chain)(nil)
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
// resolving again, but only when a Rewriter could have matched) and, when
// that resolver is a Rewriter, delegates to it. Chain panics when one of rs
// is nil.
func Chain(rs ...Resolver) Resolver {
	c := &chain{rs: append([]Resolver(nil), rs...)}
	for i, r := range c.rs {
		if r == nil {
			panic("resolve: Chain with a nil Resolver")
		}
		if _, ok := r.(Rewriter); ok {
			c.rewriters = i + 1
		}
	}
	return c
}

// Resolve returns the ID found by the first resolver that finds one.
func (c *chain) Resolve(r *http.Request) (string, error) {
	_, id, err := match(c.rs, r)
	return id, err
}

// Rewrite delegates to the resolver that resolves r to id, if it is a
// Rewriter, and otherwise returns r.
func (c *chain) Rewrite(r *http.Request, id string) *http.Request {
	m, got, err := match(c.rs[:c.rewriters], r)
	if err != nil || got != id {
		return r
	}
	if rw, ok := m.(Rewriter); ok {
		return rw.Rewrite(r, id)
	}
	return r
}

// match returns the first of rs that finds an ID, with the ID. The ID is
// checked again so that the chain keeps the Resolver contract even when one
// of its members is a third-party implementation that does not.
func match(rs []Resolver, r *http.Request) (Resolver, string, error) {
	for _, res := range rs {
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
