package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample returns a valid active tenant with the given ID and domain.
func sample(id, domain string) *tenant.Tenant {
	return &tenant.Tenant{
		ID:     id,
		Name:   "Tenant " + id,
		Domain: domain,
		OIDC: tenant.OIDC{
			Issuer:   "https://auth.example.com/" + id,
			Audience: "mcp-" + id,
		},
		Limits: tenant.Limits{MaxClients: 100, MaxSessions: 1000, RateLimit: 1000},
		Status: tenant.StatusActive,
	}
}

// create stores sample(id, domain) and fails the test on error.
func create(t *testing.T, b *Backend, id, domain string) *tenant.Tenant {
	t.Helper()
	got, err := b.Tenants.Create(t.Context(), sample(id, domain))
	require.NoError(t, err, "create %s", id)
	return got
}

// createTenants stores sample(id, "") for each of ids in tenants and fails
// the test on error: clients, sessions, grants and the admin records are
// stored only for a tenant that exists.
func createTenants(t *testing.T, tenants store.Tenants, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := tenants.Create(t.Context(), sample(id, ""))
		require.NoError(t, err, "create %s", id)
	}
}

// unknownTenants returns two IDs that have no tenant in tenants: one never
// created, and one created then deleted.
func unknownTenants(t *testing.T, tenants store.Tenants) []string {
	t.Helper()
	createTenants(t, tenants, "gone")
	_, err := tenants.Delete(t.Context(), "gone")
	require.NoError(t, err)
	return []string{"never", "gone"}
}

// requireTenantNotFound checks that err is a missing tenant for both the
// store and the tenant package.
func requireTenantNotFound(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

// requireRecordNotFound checks that err is a missing client or session,
// which must never pass for a missing tenant.
func requireRecordNotFound(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NotErrorIs(t, err, tenant.ErrNotFound, "a missing record must not look like a missing tenant")
}

// optional returns v, the backend's store named what, as an I, an
// interface a backend may leave out; when v is not one, the test is
// skipped.
func optional[I any](t *testing.T, v any, what string) I {
	t.Helper()
	i, ok := v.(I)
	if !ok {
		t.Skipf("the backend's %s is not a %v", what, reflect.TypeFor[I]())
	}
	return i
}

// within checks that d lies in [lo, hi].
func within(t *testing.T, d, lo, hi time.Duration, what string) {
	t.Helper()
	assert.True(t, d >= lo && d <= hi, "%s = %v, want within [%v, %v]", what, d, lo, hi)
}

// slack is how far a real clock may move between two calls of one check;
// with a fake clock the values are exact, and the bounds hold anyway.
const slack = 300 * time.Millisecond
