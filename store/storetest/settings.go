package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// testSettings: a tenant's settings are stored and read back byte for
// byte (large numbers, escapes and non-ASCII text included), listed, and
// replaced by an update.
func testSettings(t *testing.T, b *Backend) {
	ctx := t.Context()
	in := sample("acme", "")
	in.Settings = `{"big":12345678901234567890,"corsOrigins":["https://app.acme.example"],"note":"caf\u00e9 \"x\" ünï","flags":{"beta":true}}`
	created, err := b.Tenants.Create(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, in.Settings, created.Settings)
	got, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, in.Settings, got.Settings)
	page, _, err := b.Tenants.List(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, in.Settings, page[0].Settings)

	next := *got
	next.Settings = `{"flags":{"beta":false}}`
	_, err = b.Tenants.Update(ctx, &next)
	require.NoError(t, err)
	got2, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, tenant.Settings(`{"flags":{"beta":false}}`), got2.Settings)

}
