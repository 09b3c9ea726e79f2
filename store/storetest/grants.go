package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// GrantsBackend is a grant store under test, freshly emptied, with the
// tenant registry that shares its data (for the cascade delete).
type GrantsBackend struct {
	Grants  store.Grants
	Tenants store.Tenants
	// Advance moves the store's clock forward by d, as in [Backend].
	Advance func(d time.Duration)
}

// RunGrants runs the conformance cases of [store.Grants] as subtests of
// t. newBackend is called once per case and must return empty stores.
func RunGrants(t *testing.T, newBackend func(t *testing.T) GrantsBackend) {
	runCases(t, []testCase[GrantsBackend]{
		{"TakeOnce", testGrantTakeOnce},
		{"PutDoesNotOverwrite", testGrantPutExists},
		{"Isolation", testGrantIsolation},
		{"Expiry", testGrantExpiry},
		{"ConcurrentTake", testGrantConcurrentTake},
		{"InvalidArguments", testGrantInvalid},
		{"Delete", testGrantDelete},
		{"CascadeDelete", testGrantCascade},
		{"WritesNeedTheTenant", testGrantNeedsTheTenant},
	}, newBackend)
}

func testGrantTakeOnce(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	value := []byte("v\x00\xff{}")
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantCode, "c1", value, time.Minute))
	got, err := b.Grants.Get(ctx, "acme", store.GrantCode, "c1")
	require.NoError(t, err)
	assert.Equal(t, value, got, "values are kept byte for byte")
	got, err = b.Grants.Take(ctx, "acme", store.GrantCode, "c1")
	require.NoError(t, err)
	assert.Equal(t, value, got)
	_, err = b.Grants.Take(ctx, "acme", store.GrantCode, "c1")
	requireRecordNotFound(t, err)
	_, err = b.Grants.Get(ctx, "acme", store.GrantCode, "c1")
	requireRecordNotFound(t, err)
}

func testGrantPutExists(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantTransaction, "t1", []byte("first"), time.Minute))
	err := b.Grants.Put(ctx, "acme", store.GrantTransaction, "t1", []byte("second"), time.Minute)
	require.ErrorIs(t, err, store.ErrExists)
	require.NotErrorIs(t, err, tenant.ErrExists)
	got, err := b.Grants.Get(ctx, "acme", store.GrantTransaction, "t1")
	require.NoError(t, err)
	assert.Equal(t, []byte("first"), got)
}

func testGrantIsolation(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "acme-corp")
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantCode, "same", []byte("a"), time.Minute))
	for _, tc := range []struct {
		tenant string
		kind   store.GrantKind
	}{
		{"acme-corp", store.GrantCode},
		{"other", store.GrantCode},
		{"acme", store.GrantTransaction},
		{"acme", store.GrantRefresh},
	} {
		_, err := b.Grants.Get(ctx, tc.tenant, tc.kind, "same")
		requireRecordNotFound(t, err)
		_, err = b.Grants.Take(ctx, tc.tenant, tc.kind, "same")
		requireRecordNotFound(t, err)
		require.NoError(t, b.Grants.Delete(ctx, tc.tenant, tc.kind, "same"))
	}
	require.NoError(t, b.Grants.Put(ctx, "acme-corp", store.GrantCode, "same", []byte("b"), time.Minute),
		"another tenant's record with the same ID is another record")
	got, err := b.Grants.Take(ctx, "acme", store.GrantCode, "same")
	require.NoError(t, err)
	assert.Equal(t, []byte("a"), got, "nothing of another tenant's was touched")
}

func testGrantExpiry(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantCode, "short", []byte("x"), 500*time.Millisecond))
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantCode, "long", []byte("y"), time.Hour))
	b.Advance(1200 * time.Millisecond)
	_, err := b.Grants.Take(ctx, "acme", store.GrantCode, "short")
	requireRecordNotFound(t, err)
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantCode, "short", []byte("z"), time.Minute),
		"an expired record's place is free")
	_, err = b.Grants.Get(ctx, "acme", store.GrantCode, "long")
	require.NoError(t, err)
}

func testGrantConcurrentTake(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantCode, "race", []byte("x"), time.Minute))
	var wg sync.WaitGroup
	var won, lost atomic.Int32
	for range 16 {
		wg.Go(func() {
			_, err := b.Grants.Take(ctx, "acme", store.GrantCode, "race")
			switch {
			case err == nil:
				won.Add(1)
			case assert.ErrorIs(t, err, store.ErrNotFound):
				lost.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), won.Load(), "exactly one Take gets a record")
	assert.Equal(t, int32(15), lost.Load())
}

func testGrantInvalid(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		tenant string
		kind   store.GrantKind
		id     string
		want   error
	}{
		{"tenant ID", "ACME", store.GrantCode, "x", tenant.ErrInvalidID},
		{"tenant hash tag", "a}b", store.GrantCode, "x", tenant.ErrInvalidID},
		{"kind", "acme", "client", "x", store.ErrInvalidKey},
		{"kind with colon", "acme", "code:x", "x", store.ErrInvalidKey},
		{"empty ID", "acme", store.GrantCode, "", store.ErrInvalidKey},
		{"pattern ID", "acme", store.GrantCode, "*", store.ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, b.Grants.Put(ctx, tc.tenant, tc.kind, tc.id, []byte("x"), time.Minute), tc.want)
			_, err := b.Grants.Take(ctx, tc.tenant, tc.kind, tc.id)
			require.ErrorIs(t, err, tc.want)
			_, err = b.Grants.Get(ctx, tc.tenant, tc.kind, tc.id)
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, b.Grants.Delete(ctx, tc.tenant, tc.kind, tc.id), tc.want)
		})
	}
	require.ErrorIs(t, b.Grants.Put(ctx, "acme", store.GrantCode, "x", []byte("x"), 0), store.ErrGrantTTL)
	require.ErrorIs(t, b.Grants.Put(ctx, "acme", store.GrantCode, "x", []byte("x"), -time.Second), store.ErrGrantTTL)
}

func testGrantDelete(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	require.NoError(t, b.Grants.Put(ctx, "acme", store.GrantRefresh, "r", []byte("x"), time.Minute))
	require.NoError(t, b.Grants.Delete(ctx, "acme", store.GrantRefresh, "r"))
	_, err := b.Grants.Get(ctx, "acme", store.GrantRefresh, "r")
	requireRecordNotFound(t, err)
	require.NoError(t, b.Grants.Delete(ctx, "acme", store.GrantRefresh, "r"), "deleting nothing is fine")
}

func testGrantCascade(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	for _, id := range []string{"acme", "acme-corp"} {
		_, err := b.Tenants.Create(ctx, sample(id, ""))
		require.NoError(t, err)
		for _, kind := range []store.GrantKind{store.GrantTransaction, store.GrantCode, store.GrantRefresh} {
			require.NoError(t, b.Grants.Put(ctx, id, kind, "g", []byte(id), time.Hour))
		}
	}
	n, err := b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(4), "the metadata and the three grants")
	for _, kind := range []store.GrantKind{store.GrantTransaction, store.GrantCode, store.GrantRefresh} {
		_, err := b.Grants.Get(ctx, "acme", kind, "g")
		requireRecordNotFound(t, err)
		got, err := b.Grants.Get(ctx, "acme-corp", kind, "g")
		require.NoError(t, err, "a tenant whose ID extends the deleted one's keeps its grants")
		assert.Equal(t, []byte("acme-corp"), got)
	}
}

// testGrantNeedsTheTenant: a grant is stored only while its tenant exists.
// A Put for an ID never created, or created then deleted (a request in
// flight during the delete), is an error matching
// [store.ErrTenantNotFound], and the tenant created later under the ID
// finds no grant.
func testGrantNeedsTheTenant(t *testing.T, b *GrantsBackend) {
	ctx := t.Context()
	for _, id := range unknownTenants(t, b.Tenants) {
		for _, kind := range []store.GrantKind{store.GrantTransaction, store.GrantCode, store.GrantRefresh} {
			err := b.Grants.Put(ctx, id, kind, "g", []byte("x"), time.Hour)
			require.ErrorIs(t, err, store.ErrTenantNotFound, "%s of %s", kind, id)
		}
		createTenants(t, b.Tenants, id)
		for _, kind := range []store.GrantKind{store.GrantTransaction, store.GrantCode, store.GrantRefresh} {
			_, err := b.Grants.Get(ctx, id, kind, "g")
			requireRecordNotFound(t, err)
		}
	}
	// Tenant default is the exception: single-tenant mode serves it from
	// its configuration, with or without a record.
	require.NoError(t, b.Grants.Put(ctx, tenant.DefaultID, store.GrantCode, "g", []byte("x"), time.Hour))
}
