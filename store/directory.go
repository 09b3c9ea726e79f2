package store

import (
	"context"

	"github.com/seedmcp/tenancy/internal/keys"
)

// Directory is implemented by tenant registries that can list which
// tenants, custom domains and OIDC issuer and audience pairs exist without
// reading each tenant's record; both stores of this module do. A replica
// loads it at start (and again whenever it may have missed events) so that
// it can answer a request for a tenant ID, a domain or a token's pair that
// does not exist without asking the store: a flood of made-up names then
// costs the store nothing.
//
// The four lists are read one after the other, not as one snapshot;
// a reader that follows the tenant events while it reads, and applies the
// events that arrived meanwhile afterwards, ends up with the current state.
// Each callback gets batches of at most [DirectoryBatch] entries, and the
// slices are only valid during the call. An error returned by a callback
// stops the listing and is returned.
type Directory interface {
	// TenantIDs lists the ID of every tenant.
	TenantIDs(ctx context.Context, fn func(ids []string) error) error
	// InactiveIDs lists the IDs of the tenants that are not active. A
	// tenant's status is written to this list after its record, so a
	// tenant that was suspended a moment ago may be missing from it, but a
	// tenant listed here is not active, unless it was activated while the
	// listing ran (then its event follows).
	InactiveIDs(ctx context.Context, fn func(ids []string) error) error
	// Domains lists every custom domain with the ID of the tenant it names
	// (hosts[i] names ids[i]).
	Domains(ctx context.Context, fn func(hosts, ids []string) error) error
	// Issuers lists every OIDC issuer and audience pair a tenant trusts,
	// each named by its [IssuerPair], with the ID of that tenant
	// (pairs[i] is trusted by ids[i]).
	Issuers(ctx context.Context, fn func(pairs, ids []string) error) error
}

// IssuerPair is the name of an OIDC issuer and audience pair in
// [Directory.Issuers]: the hex SHA-256 of the issuer, a NUL byte and the
// audience. Both are free text of up to a few kilobytes, so a listing of
// them as they are could weigh hundreds of megabytes; the digest is 64
// bytes whatever their length, and a NUL cannot occur in either, so two
// pairs never share an input. A replica tests a token's pair by the same
// digest of the same text.
func IssuerPair(issuer, audience string) string { return keys.Pair(issuer, audience) }

// DirectoryBatch is the most entries a [Directory] hands to its callback
// at once: the page size of its reads.
const DirectoryBatch = 5000
