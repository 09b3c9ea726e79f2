package store

import "context"

// IssuerLookup is implemented by tenant registries that can find a tenant
// by the OIDC issuer and audience it trusts; both stores of this module
// do. No two tenants trust the same pair ([ErrIssuerAudienceExists]), so
// at most one tenant has it: this is what lets a host pick the tenant of a
// request from its bearer token (resolve.Token).
type IssuerLookup interface {
	// LookupIssuer returns the ID of the tenant whose oidc.issuer is
	// issuer and whose oidc.audience is audience, exactly, whatever its
	// status; or an error matching [ErrTenantNotFound]. Like
	// Tenants.LookupDomain it reads the pair's claim alone, so a caller
	// that serves the tenant found checks that its record holds the pair.
	LookupIssuer(ctx context.Context, issuer, audience string) (string, error)
}
