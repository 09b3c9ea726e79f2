package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Get returns the tenant with the given ID, whatever its status, or an
// error matching [store.ErrTenantNotFound].
func (r *Tenants) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	s := r.s
	if err := check(ctx, id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	return s.tenant(id, nowMs)
}

// tenant decodes the record of id. The caller holds s.mu.
func (s *Store) tenant(id string, nowMs int64) (*tenant.Tenant, error) {
	e := s.get(keys.Metadata(id), nowMs)
	if e == nil {
		return nil, fmt.Errorf("memstore: %w: %q", store.ErrTenantNotFound, id)
	}
	t := new(tenant.Tenant)
	if err := json.Unmarshal(e.value, t); err != nil {
		return nil, fmt.Errorf("memstore: decode tenant %q: %w", id, err)
	}
	return t, nil
}

// LookupDomain returns the ID of the tenant whose custom domain is host. A
// host that is not a valid domain name cannot belong to a tenant and is not
// found either.
func (r *Tenants) LookupDomain(ctx context.Context, host string) (string, error) {
	s := r.s
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !tenant.ValidDomain(host) {
		return "", fmt.Errorf("memstore: %w: domain %q", store.ErrTenantNotFound, host)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	e := s.get(keys.Domain(host), nowMs)
	if e == nil {
		return "", fmt.Errorf("memstore: %w: domain %q", store.ErrTenantNotFound, host)
	}
	return string(e.value), nil
}

// Create validates t, stamps it and stores it. A taken domain is
// [store.ErrDomainExists], an OIDC issuer and audience another tenant
// trusts already [store.ErrIssuerAudienceExists], and a taken ID
// [store.ErrTenantExists]; like redisstore, they are checked in that order.
func (r *Tenants) Create(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error) {
	s := r.s
	var created *tenant.Tenant
	err := s.locked(checkTenant(ctx, t), func(now time.Time, nowMs int64) error {
		rec := *t
		rec.CreatedAt, rec.UpdatedAt = now, now
		data, err := json.Marshal(&rec)
		if err != nil {
			return fmt.Errorf("memstore: encode tenant %q: %w", t.ID, err)
		}
		if rec.Domain != "" && s.get(keys.Domain(rec.Domain), nowMs) != nil {
			return fmt.Errorf("memstore: %w: %q", store.ErrDomainExists, rec.Domain)
		}
		pair, hasPair := oidcKey(&rec)
		if hasPair && s.takenBy(pair, rec.ID, nowMs) {
			return fmt.Errorf("memstore: %w: %q", store.ErrIssuerAudienceExists, rec.OIDC.Issuer)
		}
		if s.get(keys.Metadata(rec.ID), nowMs) != nil {
			return fmt.Errorf("memstore: %w: %q", store.ErrTenantExists, rec.ID)
		}
		for _, key := range claims(&rec) {
			s.keys[key] = &entry{value: []byte(rec.ID)}
		}
		s.keys[keys.Metadata(rec.ID)] = &entry{value: data}
		s.index[rec.ID] = true
		s.publish(store.Event{Type: store.EventCreated, TenantID: rec.ID})
		created = &rec
		return nil
	})
	return created, err
}

// checkTenant refuses a done context and a tenant that does not validate,
// the checks at the start of Create, Update and Swap.
func checkTenant(ctx context.Context, t *tenant.Tenant) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// Update replaces the mutable fields of an existing tenant, keeping its ID
// and CreatedAt, and moves its custom domain and its claim of an OIDC
// issuer and audience when they changed.
func (r *Tenants) Update(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error) {
	return r.update(ctx, nil, t)
}

// Swap is Update made only while the stored tenant is still read, whole;
// otherwise it returns [store.ErrConflict].
func (r *Tenants) Swap(ctx context.Context, read, t *tenant.Tenant) (*tenant.Tenant, error) {
	return r.update(ctx, read, t)
}

// update is Update, and Swap when read is not nil.
func (r *Tenants) update(ctx context.Context, read, t *tenant.Tenant) (*tenant.Tenant, error) {
	s := r.s
	var updated *tenant.Tenant
	err := s.locked(checkTenant(ctx, t), func(now time.Time, nowMs int64) error {
		old, err := s.tenant(t.ID, nowMs)
		if err != nil {
			return err
		}
		if read != nil && !sameRecord(old, read) {
			return fmt.Errorf("memstore: %w: %q", store.ErrConflict, t.ID)
		}
		rec := *t
		rec.CreatedAt, rec.UpdatedAt = old.CreatedAt, now
		data, err := json.Marshal(&rec)
		if err != nil {
			return fmt.Errorf("memstore: encode tenant %q: %w", t.ID, err)
		}
		newPair, hasPair := oidcKey(&rec)
		oldPair, hadPair := oidcKey(old)
		if rec.Domain != "" && rec.Domain != old.Domain && s.takenBy(keys.Domain(rec.Domain), rec.ID, nowMs) {
			return fmt.Errorf("memstore: %w: %q", store.ErrDomainExists, rec.Domain)
		}
		if hasPair && newPair != oldPair && s.takenBy(newPair, rec.ID, nowMs) {
			return fmt.Errorf("memstore: %w: %q", store.ErrIssuerAudienceExists, rec.OIDC.Issuer)
		}
		if old.Domain != "" && old.Domain != rec.Domain {
			s.release(keys.Domain(old.Domain), rec.ID, nowMs)
		}
		if hadPair && oldPair != newPair {
			s.release(oldPair, rec.ID, nowMs)
		}
		for _, key := range claims(&rec) {
			s.keys[key] = &entry{value: []byte(rec.ID)}
		}
		s.keys[keys.Metadata(rec.ID)] = &entry{value: data}
		s.publish(store.Event{Type: store.EventUpdated, TenantID: rec.ID})
		updated = &rec
		return nil
	})
	return updated, err
}

// sameRecord reports whether two tenants would be stored as the same
// record. Comparing whole records, as redisstore's script does, rather
// than UpdatedAt alone keeps two changes made within one millisecond (the
// stores' resolution) from both passing as the change of the same read.
func sameRecord(a, b *tenant.Tenant) bool {
	da, errA := json.Marshal(a)
	db, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(da) == string(db)
}

// takenBy reports whether the claim key names a tenant other than id. The
// caller holds s.mu.
func (s *Store) takenBy(key, id string, nowMs int64) bool {
	e := s.get(key, nowMs)
	return e != nil && string(e.value) != id
}

// release removes the claim key (a domain or an OIDC issuer and audience)
// when it still names id, and reports whether it did. The caller holds
// s.mu.
func (s *Store) release(key, id string, nowMs int64) bool {
	if e := s.get(key, nowMs); e != nil && string(e.value) == id {
		delete(s.keys, key)
		return true
	}
	return false
}

// oidcKey returns the claim key of t's OIDC issuer and audience, and
// whether t has OIDC settings to claim.
func oidcKey(t *tenant.Tenant) (string, bool) {
	if !t.OIDC.Configured() {
		return "", false
	}
	return keys.OIDC(t.OIDC.Issuer, t.OIDC.Audience), true
}

// claims returns the keys t holds as its own outside its namespace: its
// custom domain and the claim of its OIDC issuer and audience.
func claims(t *tenant.Tenant) []string {
	var ks []string
	if t.Domain != "" {
		ks = append(ks, keys.Domain(t.Domain))
	}
	if pair, ok := oidcKey(t); ok {
		ks = append(ks, pair)
	}
	return ks
}

// Delete removes the tenant and all of its data and returns the number of
// keys removed, counted as redisstore counts them: the metadata key, the
// domain key, the claim of its OIDC issuer and audience, and every live
// tenant:{id}:* key (each client and session
// record, the two sorted sets while they have members, each limiter key).
// The index entry is a member of a shared key, not a key, and is not
// counted. When there is no metadata but data is left (a delete that was
// interrupted), the data is still removed; only when nothing at all was
// removed is the answer [store.ErrTenantNotFound].
func (r *Tenants) Delete(ctx context.Context, id string) (int64, error) {
	s := r.s
	var n int64
	err := s.locked(check(ctx, id), func(_ time.Time, nowMs int64) error {
		if e := s.get(keys.Metadata(id), nowMs); e != nil {
			delete(s.keys, keys.Metadata(id))
			n++
			var old tenant.Tenant
			if json.Unmarshal(e.value, &old) == nil {
				for _, key := range claims(&old) {
					if s.release(key, id, nowMs) {
						n++
					}
				}
			}
		}
		delete(s.index, id)
		n += s.unlink(keys.Prefix(id), nowMs)
		if n == 0 {
			return fmt.Errorf("memstore: %w: %q", store.ErrTenantNotFound, id)
		}
		s.publish(store.Event{Type: store.EventDeleted, TenantID: id})
		return nil
	})
	return n, err
}

// List returns up to limit tenants in ID order after cursor, and the cursor
// of the next page, "" after the last one. limit is normalised by
// [store.ListLimit].
func (r *Tenants) List(ctx context.Context, cursor string, limit int) ([]*tenant.Tenant, string, error) {
	s := r.s
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if cursor != "" {
		if err := tenant.ValidateID(cursor); err != nil {
			return nil, "", fmt.Errorf("memstore: cursor: %w", err)
		}
	}
	limit = store.ListLimit(limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	ids := make([]string, 0, len(s.index))
	for id := range s.index {
		if id > cursor {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	page := make([]*tenant.Tenant, 0, len(ids))
	for _, id := range ids {
		// A member without a record is a tenant being created or deleted
		// at this moment: skipped, as redisstore does.
		if t, err := s.tenant(id, nowMs); err == nil {
			page = append(page, t)
		}
	}
	return page, next, nil
}

// check refuses a done context and an invalid tenant ID, the checks at the
// start of every method that takes an ID.
func check(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tenant.ValidateID(id); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// checkKey is check followed by the validation of a record's ID, which
// what names in the error ("session ID").
func checkKey(ctx context.Context, tenantID, id, what string) error {
	if err := check(ctx, tenantID); err != nil {
		return err
	}
	if err := store.ValidKey(id); err != nil {
		return fmt.Errorf("memstore: %s: %w", what, err)
	}
	return nil
}
