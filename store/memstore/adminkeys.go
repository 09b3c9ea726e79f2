package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

// adminKeys is the tenant's keys by ID.
type adminKeys map[string]store.AdminKey

// keyRecord is how a key is kept: the hash is not part of AdminKey's JSON.
// The last uses are kept apart, under keys.AdminKeysUsed, as redisstore
// keeps them, so that both stores count the same keys in a cascade delete.
type keyRecord struct {
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"createdAt"`
}

// adminKeys returns the tenant's keys with their last uses. The caller
// holds s.mu.
func (s *Store) adminKeys(tenantID string, nowMs int64) adminKeys {
	recs := map[string]keyRecord{}
	if e := s.get(keys.AdminKeys(tenantID), nowMs); e != nil {
		_ = json.Unmarshal(e.value, &recs)
	}
	used := s.keysUsed(tenantID, nowMs)
	out := adminKeys{}
	for id, r := range recs {
		k := store.AdminKey{ID: id, Hash: r.Hash, CreatedAt: r.CreatedAt}
		if ms, ok := used[id]; ok {
			k.LastUsedAt = time.UnixMilli(ms).UTC()
		}
		out[id] = k
	}
	return out
}

// keysUsed returns the last uses by key ID. The caller holds s.mu.
func (s *Store) keysUsed(tenantID string, nowMs int64) map[string]int64 {
	used := map[string]int64{}
	if e := s.get(keys.AdminKeysUsed(tenantID), nowMs); e != nil {
		_ = json.Unmarshal(e.value, &used)
	}
	return used
}

// saveJSON writes v under key, or drops the key when n is 0, as Redis
// drops an empty hash. The caller holds s.mu.
func (s *Store) saveJSON(key string, v any, n int) {
	if n == 0 {
		delete(s.keys, key)
		return
	}
	data, _ := json.Marshal(v)
	s.keys[key] = &entry{value: data}
}

// saveAdminKeys writes the records of ks back (not their last uses). The
// caller holds s.mu.
func (s *Store) saveAdminKeys(tenantID string, ks adminKeys) {
	recs := make(map[string]keyRecord, len(ks))
	for id, k := range ks {
		recs[id] = keyRecord{Hash: k.Hash, CreatedAt: k.CreatedAt}
	}
	s.saveJSON(keys.AdminKeys(tenantID), recs, len(recs))
}

// forgetUse drops the last use of a key. The caller holds s.mu.
func (s *Store) forgetUse(tenantID, keyID string, nowMs int64) {
	used := s.keysUsed(tenantID, nowMs)
	delete(used, keyID)
	s.saveJSON(keys.AdminKeysUsed(tenantID), used, len(used))
}

// Create stores k while the tenant exists, the ID is free and the tenant
// has fewer than max keys.
func (a *AdminKeys) Create(ctx context.Context, tenantID string, k store.AdminKey, max int) error {
	s := a.s
	return s.locked(checkKey(ctx, tenantID, k.ID, "admin key ID"), func(_ time.Time, nowMs int64) error {
		if max <= 0 {
			max = store.MaxAdminKeys
		}
		if s.get(keys.Metadata(tenantID), nowMs) == nil {
			return fmt.Errorf("memstore: admin key of %q: %w", tenantID, store.ErrTenantNotFound)
		}
		ks := s.adminKeys(tenantID, nowMs)
		if _, ok := ks[k.ID]; ok {
			return fmt.Errorf("memstore: admin key %q of %q: %w", k.ID, tenantID, store.ErrExists)
		}
		if len(ks) >= max {
			return fmt.Errorf("memstore: admin keys of %q: %w", tenantID, store.ErrLimit)
		}
		ks[k.ID] = store.AdminKey{ID: k.ID, Hash: k.Hash, CreatedAt: k.CreatedAt.UTC()}
		s.saveAdminKeys(tenantID, ks)
		s.forgetUse(tenantID, k.ID, nowMs)
		return nil
	})
}

// Get returns one key.
func (a *AdminKeys) Get(ctx context.Context, tenantID, keyID string) (*store.AdminKey, error) {
	if err := checkKey(ctx, tenantID, keyID, "admin key ID"); err != nil {
		return nil, err
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	k, ok := s.adminKeys(tenantID, nowMs)[keyID]
	if !ok {
		return nil, fmt.Errorf("memstore: admin key %q of %q: %w", keyID, tenantID, store.ErrNotFound)
	}
	return &k, nil
}

// List returns the tenant's keys by creation time, then ID.
func (a *AdminKeys) List(ctx context.Context, tenantID string) ([]store.AdminKey, error) {
	if err := check(ctx, tenantID); err != nil {
		return nil, err
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	list := []store.AdminKey{}
	for _, k := range s.adminKeys(tenantID, nowMs) {
		list = append(list, k)
	}
	slices.SortFunc(list, func(a, b store.AdminKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list, nil
}

// Touch records a use of a key that exists, to the millisecond.
func (a *AdminKeys) Touch(ctx context.Context, tenantID, keyID string, at time.Time) error {
	s := a.s
	return s.locked(checkKey(ctx, tenantID, keyID, "admin key ID"), func(_ time.Time, nowMs int64) error {
		if _, ok := s.adminKeys(tenantID, nowMs)[keyID]; !ok {
			return nil
		}
		used := s.keysUsed(tenantID, nowMs)
		used[keyID] = at.UnixMilli()
		s.saveJSON(keys.AdminKeysUsed(tenantID), used, len(used))
		return nil
	})
}

// Revoke removes a key.
func (a *AdminKeys) Revoke(ctx context.Context, tenantID, keyID string) error {
	s := a.s
	return s.locked(checkKey(ctx, tenantID, keyID, "admin key ID"), func(_ time.Time, nowMs int64) error {
		ks := s.adminKeys(tenantID, nowMs)
		if _, ok := ks[keyID]; !ok {
			return fmt.Errorf("memstore: admin key %q of %q: %w", keyID, tenantID, store.ErrNotFound)
		}
		delete(ks, keyID)
		s.saveAdminKeys(tenantID, ks)
		s.forgetUse(tenantID, keyID, nowMs)
		return nil
	})
}
