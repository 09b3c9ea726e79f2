package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

// checkGrant validates the arguments every method shares.
func checkGrant(ctx context.Context, tenantID string, kind store.GrantKind, id string) error {
	if err := check(ctx, tenantID); err != nil {
		return err
	}
	if !kind.Valid() {
		return fmt.Errorf("memstore: grant kind %q: %w", kind, store.ErrInvalidKey)
	}
	if err := store.ValidKey(id); err != nil {
		return fmt.Errorf("memstore: grant ID: %w", err)
	}
	return nil
}

// Put stores value under the tenant, kind and id for ttl; a live record
// there is an error matching [store.ErrExists], and a tenant that does not
// exist [store.ErrTenantNotFound] (nothing is written).
func (g *Grants) Put(ctx context.Context, tenantID string, kind store.GrantKind, id string, value []byte, ttl time.Duration) error {
	s := g.s
	return s.locked(checkGrant(ctx, tenantID, kind, id), func(_ time.Time, nowMs int64) error {
		if ttl <= 0 {
			return store.ErrGrantTTL
		}
		if s.unrecorded(tenantID, nowMs) {
			return fmt.Errorf("memstore: grant %s of %q: %w", kind, tenantID, store.ErrTenantNotFound)
		}
		key := keys.OAuth(tenantID, string(kind), id)
		if s.get(key, nowMs) != nil {
			return fmt.Errorf("memstore: grant %s of %q: %w", kind, tenantID, store.ErrExists)
		}
		s.keys[key] = &entry{value: append([]byte(nil), value...), expireAt: nowMs + max(1, (ttl+time.Millisecond-1).Milliseconds())}
		return nil
	})
}

// Take returns a live record and removes it, or an error matching
// [store.ErrNotFound].
func (g *Grants) Take(ctx context.Context, tenantID string, kind store.GrantKind, id string) ([]byte, error) {
	return g.read(ctx, tenantID, kind, id, true)
}

// Get returns a live record, or an error matching [store.ErrNotFound].
func (g *Grants) Get(ctx context.Context, tenantID string, kind store.GrantKind, id string) ([]byte, error) {
	return g.read(ctx, tenantID, kind, id, false)
}

func (g *Grants) read(ctx context.Context, tenantID string, kind store.GrantKind, id string, take bool) ([]byte, error) {
	s := g.s
	var value []byte
	err := s.locked(checkGrant(ctx, tenantID, kind, id), func(_ time.Time, nowMs int64) error {
		key := keys.OAuth(tenantID, string(kind), id)
		e := s.get(key, nowMs)
		if e == nil {
			return fmt.Errorf("memstore: grant %s of %q: %w", kind, tenantID, store.ErrNotFound)
		}
		if take {
			delete(s.keys, key)
		}
		value = append([]byte(nil), e.value...)
		return nil
	})
	return value, err
}

// Delete removes a record; a missing one is not an error.
func (g *Grants) Delete(ctx context.Context, tenantID string, kind store.GrantKind, id string) error {
	s := g.s
	return s.locked(checkGrant(ctx, tenantID, kind, id), func(time.Time, int64) error {
		delete(s.keys, keys.OAuth(tenantID, string(kind), id))
		return nil
	})
}
