package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// testLookupIssuer: a tenant is found by the exact issuer and audience it
// trusts, whatever its status; a pair that moves or goes with its tenant is
// found no more. Skipped when the registry is not a store.IssuerLookup.
func testLookupIssuer(t *testing.T, b *Backend) {
	l := optional[store.IssuerLookup](t, b.Tenants, "Tenants")
	ctx := t.Context()
	notFound := func(issuer, audience string) {
		t.Helper()
		_, err := l.LookupIssuer(ctx, issuer, audience)
		requireTenantNotFound(t, err)
	}
	acme := create(t, b, "acme", "")
	create(t, b, "beta", "")
	id, err := l.LookupIssuer(ctx, acme.OIDC.Issuer, acme.OIDC.Audience)
	require.NoError(t, err)
	assert.Equal(t, "acme", id)
	id, err = l.LookupIssuer(ctx, "https://auth.example.com/beta", "mcp-beta")
	require.NoError(t, err)
	assert.Equal(t, "beta", id)

	notFound(acme.OIDC.Issuer, "mcp-beta")
	notFound(acme.OIDC.Issuer+"/", acme.OIDC.Audience)
	notFound(acme.OIDC.Issuer, "MCP-ACME")
	notFound("", acme.OIDC.Audience)
	notFound(acme.OIDC.Issuer, "")

	acme.Status = tenant.StatusSuspended
	acme, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	id, err = l.LookupIssuer(ctx, acme.OIDC.Issuer, acme.OIDC.Audience)
	require.NoError(t, err)
	assert.Equal(t, "acme", id, "whatever its status")

	old := acme.OIDC
	acme.OIDC.Audience = "mcp-acme-2"
	_, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	notFound(old.Issuer, old.Audience)
	id, err = l.LookupIssuer(ctx, old.Issuer, "mcp-acme-2")
	require.NoError(t, err)
	assert.Equal(t, "acme", id)

	_, err = b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)
	notFound(old.Issuer, "mcp-acme-2")
}
