package redisstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// TestSwapWithinOneMillisecond: two swaps of one read, made while the
// clock shows the same millisecond (so both records carry the same
// updatedAt), must not both pass: the second would overwrite the first
// change without having seen it. memstore holds the same rule.
func TestSwapWithinOneMillisecond(t *testing.T) {
	s, _, _, _ := newMiniredis(t)
	ctx := t.Context()
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	require.NoError(t, err)
	read, err := s.Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	_, err = s.Tenants().Swap(ctx, read, &tenant.Tenant{ID: "acme", Name: "First", Status: tenant.StatusActive})
	require.NoError(t, err)
	_, err = s.Tenants().Swap(ctx, read, &tenant.Tenant{ID: "acme", Name: "Second", Status: tenant.StatusActive})
	require.ErrorIs(t, err, store.ErrConflict)
	got, err := s.Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, "First", got.Name)
}
