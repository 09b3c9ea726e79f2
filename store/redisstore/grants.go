package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// grantKey validates the arguments every method shares and returns the
// record's key.
func grantKey(tenantID string, kind store.GrantKind, id string) (string, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return "", fmt.Errorf("redisstore: %w", err)
	}
	if !kind.Valid() {
		return "", fmt.Errorf("redisstore: grant kind %q: %w", kind, store.ErrInvalidKey)
	}
	if err := store.ValidKey(id); err != nil {
		return "", fmt.Errorf("redisstore: grant ID: %w", err)
	}
	return keys.OAuth(tenantID, string(kind), id), nil
}

// Put stores value for ttl with SET NX PX, in a script that first checks
// the tenant's record (see lua/grant.lua): one round trip. A live record
// with the same key is an error matching [store.ErrExists]; a tenant that
// does not exist is [store.ErrTenantNotFound], and nothing is written, so
// that a grant arriving after the tenant's delete cannot outlive it.
func (g *Grants) Put(ctx context.Context, tenantID string, kind store.GrantKind, id string, value []byte, ttl time.Duration) error {
	key, err := grantKey(tenantID, kind, id)
	if err != nil {
		return err
	}
	if ttl <= 0 {
		return store.ErrGrantTTL
	}
	n, err := grantScript.Run(ctx, g.s.rdb, []string{keys.Metadata(tenantID), key}, value, millis(ttl)).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: put grant %s of %q: %w", kind, tenantID, err)
	case n == 0:
		return fmt.Errorf("redisstore: grant %s of %q: %w", kind, tenantID, store.ErrExists)
	case n < 0:
		return fmt.Errorf("redisstore: grant %s of %q: %w", kind, tenantID, store.ErrTenantNotFound)
	}
	return nil
}

// Take returns a live record and removes it with GETDEL (Redis 6.2 or
// later), so that of two concurrent Takes exactly one gets it.
func (g *Grants) Take(ctx context.Context, tenantID string, kind store.GrantKind, id string) ([]byte, error) {
	key, err := grantKey(tenantID, kind, id)
	if err != nil {
		return nil, err
	}
	return g.result(g.s.rdb.GetDel(ctx, key), kind, tenantID)
}

// Get returns a live record with GET.
func (g *Grants) Get(ctx context.Context, tenantID string, kind store.GrantKind, id string) ([]byte, error) {
	key, err := grantKey(tenantID, kind, id)
	if err != nil {
		return nil, err
	}
	return g.result(g.s.rdb.Get(ctx, key), kind, tenantID)
}

func (g *Grants) result(cmd *redis.StringCmd, kind store.GrantKind, tenantID string) ([]byte, error) {
	data, err := cmd.Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("redisstore: grant %s of %q: %w", kind, tenantID, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("redisstore: read grant %s of %q: %w", kind, tenantID, err)
	}
	return data, nil
}

// Delete removes a record with UNLINK; a missing one is not an error.
func (g *Grants) Delete(ctx context.Context, tenantID string, kind store.GrantKind, id string) error {
	key, err := grantKey(tenantID, kind, id)
	if err != nil {
		return err
	}
	if err := g.s.rdb.Unlink(ctx, key).Err(); err != nil {
		return fmt.Errorf("redisstore: delete grant %s of %q: %w", kind, tenantID, err)
	}
	return nil
}
