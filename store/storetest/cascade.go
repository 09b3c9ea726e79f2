package storetest

import (
	"testing"

	"github.com/seedmcp/tenancy/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// populate gives the tenant id a custom domain, clients c1 and c2, sessions
// s1 to s3, and limiter state for each of keys (limit 10, one request).
// That is 1 (metadata) + 1 (domain) + 1 (the claim of its OIDC issuer and
// audience) + 2 + 1 (client set) + 3 + 1 (session set) + len(keys) Redis
// keys.
func populate(t *testing.T, b *Backend, id string, keys ...string) {
	t.Helper()
	ctx := t.Context()
	create(t, b, id, id+".example.com")
	for _, c := range []string{"c1", "c2"} {
		require.NoError(t, b.Clients.Register(ctx, id, &store.Client{ClientID: c, ClientName: id}, 10))
	}
	for _, s := range []string{"s1", "s2", "s3"} {
		_, err := b.Sessions.Create(ctx, id, s, "user-"+id, 10)
		require.NoError(t, err)
	}
	for _, k := range keys {
		d, err := b.Limiter.Allow(ctx, id, k, 10)
		require.NoError(t, err)
		require.Equal(t, 9, d.Remaining)
	}
}

// requireIntact checks that a populated tenant kept all of its data.
func requireIntact(t *testing.T, b *Backend, id string) {
	t.Helper()
	ctx := t.Context()
	_, err := b.Tenants.Get(ctx, id)
	require.NoError(t, err, id)
	got, err := b.Tenants.LookupDomain(ctx, id+".example.com")
	require.NoError(t, err, id)
	assert.Equal(t, id, got)
	for _, c := range []string{"c1", "c2"} {
		client, err := b.Clients.Get(ctx, id, c)
		require.NoError(t, err, "%s/%s", id, c)
		assert.Equal(t, id, client.ClientName)
	}
	for _, s := range []string{"s1", "s2", "s3"} {
		_, err := b.Sessions.Get(ctx, id, s)
		require.NoError(t, err, "%s/%s", id, s)
	}
	// The limiter remembers the earlier requests.
	d, err := b.Limiter.Allow(ctx, id, "k1", 10)
	require.NoError(t, err)
	assert.Less(t, d.Remaining, 9, "%s keeps its limiter state", id)
	// Places are still taken: 2 of 2 clients.
	require.ErrorIs(t, b.Clients.Register(ctx, id, &store.Client{ClientID: "c3"}, 2), store.ErrLimit)
}

func testCascadeDelete(t *testing.T, b *Backend) {
	ctx := t.Context()
	populate(t, b, "acme", "k1", "k2")
	populate(t, b, "acme-corp", "k1")
	populate(t, b, "acme2", "k1")

	n, err := b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1+1+1+2+1+3+1+2), n,
		"metadata, domain, issuer claim, 2 clients, client set, 3 sessions, session set, 2 limiter keys")

	_, err = b.Tenants.Get(ctx, "acme")
	requireTenantNotFound(t, err)
	_, err = b.Tenants.LookupDomain(ctx, "acme.example.com")
	requireTenantNotFound(t, err)
	for _, c := range []string{"c1", "c2"} {
		_, err := b.Clients.Get(ctx, "acme", c)
		requireRecordNotFound(t, err)
	}
	for _, s := range []string{"s1", "s2", "s3"} {
		_, err := b.Sessions.Get(ctx, "acme", s)
		requireRecordNotFound(t, err)
	}
	d, err := b.Limiter.Allow(ctx, "acme", "k1", 10)
	require.NoError(t, err)
	assert.Equal(t, 9, d.Remaining, "the limiter state went with the tenant")
	page, _, err := b.Tenants.List(ctx, "", 0)
	require.NoError(t, err)
	var ids []string
	for _, tn := range page {
		ids = append(ids, tn.ID)
	}
	assert.Equal(t, []string{"acme-corp", "acme2"}, ids)

	requireIntact(t, b, "acme-corp")
	requireIntact(t, b, "acme2")

	// The request above left limiter state under acme's name: a delete
	// sweeps data even when the tenant record is gone (finishing an
	// interrupted delete), and only then is the tenant not found.
	n, err = b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err, "leftover data of a deleted tenant is still swept")
	assert.Equal(t, int64(1), n)
	_, err = b.Tenants.Delete(ctx, "acme")
	requireTenantNotFound(t, err)

	n, err = b.Tenants.Delete(ctx, "acme-corp")
	require.NoError(t, err)
	assert.Equal(t, int64(1+1+1+2+1+3+1+1), n)
	requireIntact(t, b, "acme2")

	// The deleted tenants' domains and OIDC issuers are free again.
	_, err = b.Tenants.Create(ctx, sample("acme", "acme-corp.example.com"))
	require.NoError(t, err)
	reuse := sample("other", "acme.example.com")
	reuse.OIDC = sample("acme-corp", "").OIDC
	_, err = b.Tenants.Create(ctx, reuse)
	require.NoError(t, err)
}
