package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

var _ store.IssuerLookup = (*Tenants)(nil)

// LookupIssuer returns the ID of the tenant that trusts the OIDC issuer
// and audience, from the claim Create and Update keep for the pair. An
// empty issuer or audience is not found without asking Redis. One round
// trip: GET.
//
// Tenants written by a version of this package that did not claim their
// pairs are found once Tenants.Reindex has run.
func (r *Tenants) LookupIssuer(ctx context.Context, issuer, audience string) (string, error) {
	if issuer == "" || audience == "" {
		return "", fmt.Errorf("redisstore: %w: empty issuer or audience", store.ErrTenantNotFound)
	}
	id, err := r.s.rdb.Get(ctx, keys.OIDC(issuer, audience)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redisstore: %w: issuer %q", store.ErrTenantNotFound, issuer)
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: get issuer %q: %w", issuer, err)
	}
	return id, nil
}
