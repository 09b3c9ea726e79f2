package middleware

import (
	"context"
	"errors"

	"github.com/seedmcp/tenancy/tenant"
)

// WithFallback returns a Getter that answers like src, except that when src
// does not know fallback.ID it returns fallback. Single-tenant mode uses it
// for tenant "default": a deployment that has not put that tenant in the
// store keeps working with the host's existing settings (phase 1 of the
// migration to multi-tenancy), and a tenant stored later takes precedence.
// fallback must be valid and is shared, not copied.
func WithFallback(src Getter, fallback *tenant.Tenant) Getter {
	return fallbackGetter{src: src, fallback: fallback}
}

type fallbackGetter struct {
	src      Getter
	fallback *tenant.Tenant
}

func (g fallbackGetter) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	t, err := g.src.Get(ctx, id)
	if id == g.fallback.ID && errors.Is(err, tenant.ErrNotFound) {
		return g.fallback, nil
	}
	return t, err
}
