package memstore

import (
	"context"
	"fmt"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

var _ store.IssuerLookup = (*Tenants)(nil)

// LookupIssuer returns the ID of the tenant that trusts the OIDC issuer
// and audience, or an error matching [store.ErrTenantNotFound].
func (r *Tenants) LookupIssuer(ctx context.Context, issuer, audience string) (string, error) {
	s := r.s
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if issuer == "" || audience == "" {
		return "", fmt.Errorf("memstore: %w: empty issuer or audience", store.ErrTenantNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	e := s.get(keys.OIDC(issuer, audience), nowMs)
	if e == nil {
		return "", fmt.Errorf("memstore: %w: issuer %q", store.ErrTenantNotFound, issuer)
	}
	return string(e.value), nil
}
