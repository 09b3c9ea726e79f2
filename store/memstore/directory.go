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
	s := r.s
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	_, nowMs := s.now()
	var hosts []string
	owner := map[string]string{}
	for key := range s.keys {
		if host, ok := strings.CutPrefix(key, keys.Domain("")); ok {
			if e := s.get(key, nowMs); e != nil {
				hosts = append(hosts, host)
				owner[host] = string(e.value)
			}
		}
	}
	s.mu.Unlock()
	slices.Sort(hosts)
	return batches(hosts, func(hosts []string) error {
		ids := make([]string, len(hosts))
		for i, h := range hosts {
			ids[i] = owner[h]
		}
		return fn(hosts, ids)
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
