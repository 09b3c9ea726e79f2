package memstore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

var _ store.Directory = (*Tenants)(nil)

// TenantIDs lists every tenant ID in order, in batches of
// [store.DirectoryBatch].
func (r *Tenants) TenantIDs(ctx context.Context, fn func(ids []string) error) error {
	ids, _, err := r.s.directory(ctx)
	if err != nil {
		return err
	}
	return batches(ids, fn)
}

// InactiveIDs lists the IDs of the tenants that are not active, in order.
// The memory store reads them from the records, which redisstore keeps a
// set of.
func (r *Tenants) InactiveIDs(ctx context.Context, fn func(ids []string) error) error {
	_, inactive, err := r.s.directory(ctx)
	if err != nil {
		return err
	}
	return batches(inactive, fn)
}

// Domains lists every custom domain, in order, with the tenant it names.
func (r *Tenants) Domains(ctx context.Context, fn func(hosts, ids []string) error) error {
	return r.s.claims(ctx, keys.Domain(""), fn)
}

// Issuers lists every OIDC issuer and audience pair, named by its
// store.IssuerPair and in order, with the tenant that trusts it: the
// memory store reads them from the claims, which redisstore keeps a set
// of.
func (r *Tenants) Issuers(ctx context.Context, fn func(pairs, ids []string) error) error {
	return r.s.claims(ctx, keys.OIDCClaim(""), fn)
}

// claims lists the claim keys under prefix (the name after the prefix,
// in order) with the tenant each names, in batches.
func (s *Store) claims(ctx context.Context, prefix string, fn func(names, ids []string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	_, nowMs := s.now()
	var names []string
	owner := map[string]string{}
	for key := range s.keys {
		if name, ok := strings.CutPrefix(key, prefix); ok {
			if e := s.get(key, nowMs); e != nil {
				names = append(names, name)
				owner[name] = string(e.value)
			}
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	return batches(names, func(names []string) error {
		ids := make([]string, len(names))
		for i, n := range names {
			ids[i] = owner[n]
		}
		return fn(names, ids)
	})
}

// directory returns every tenant ID and the IDs of the inactive tenants,
// each sorted.
func (s *Store) directory(ctx context.Context) (ids, inactive []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	ids = make([]string, 0, len(s.index))
	for id := range s.index {
		ids = append(ids, id)
		if e := s.get(keys.Metadata(id), nowMs); e != nil && !activeRecord(e.value) {
			inactive = append(inactive, id)
		}
	}
	slices.Sort(ids)
	slices.Sort(inactive)
	return ids, inactive, nil
}

// activeRecord reports whether a stored tenant record is of an active
// tenant. A record that does not decode is not refused for it: a replica
// reads such a tenant and gets the error.
func activeRecord(data []byte) bool {
	var t struct {
		Status tenant.Status `json:"status"`
	}
	return json.Unmarshal(data, &t) != nil || t.Status == tenant.StatusActive
}

// batches calls fn with successive parts of all of at most
// store.DirectoryBatch entries, stopping at the first error.
func batches(all []string, fn func([]string) error) error {
	for part := range slices.Chunk(all, store.DirectoryBatch) {
		if err := fn(part); err != nil {
			return err
		}
	}
	return nil
}
