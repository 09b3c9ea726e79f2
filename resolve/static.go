package resolve

import (
	"fmt"
	"net/http"

	"github.com/seedmcp/tenancy/tenant"
)

// static resolves every request to one tenant.
type static struct{ id string }

var _ Resolver = static{}

// Static returns a Resolver that resolves every request to id, for
// single-tenant mode (usually with [tenant.DefaultID]). It returns an error
// wrapping [tenant.ErrInvalidID] when id breaks the ID rules, so a bad
// configuration fails at start-up rather than on every request.
func Static(id string) (Resolver, error) {
	if err := tenant.ValidateID(id); err != nil {
		return nil, fmt.Errorf("resolve: static tenant: %w", err)
	}
	return static{id: id}, nil
}

// Resolve returns the configured ID.
func (s static) Resolve(*http.Request) (string, error) { return s.id, nil }
