package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// adminKeyRecord is what the hash holds for a key.
type adminKeyRecord struct {
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"createdAt"`
}

func adminKeyArgs(tenantID, keyID string) error {
	if err := tenant.ValidateID(tenantID); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	if err := store.ValidKey(keyID); err != nil {
		return fmt.Errorf("redisstore: admin key ID: %w", err)
	}
	return nil
}

// Create stores k with a script that checks the tenant exists, the ID is
// free and the tenant has fewer than max keys. One round trip.
func (a *AdminKeys) Create(ctx context.Context, tenantID string, k store.AdminKey, max int) error {
	if err := adminKeyArgs(tenantID, k.ID); err != nil {
		return err
	}
	if max <= 0 {
		max = store.MaxAdminKeys
	}
	data, err := json.Marshal(adminKeyRecord{Hash: k.Hash, CreatedAt: k.CreatedAt.UTC()})
	if err != nil {
		return fmt.Errorf("redisstore: encode admin key: %w", err)
	}
	res, err := adminKeyScript.Run(ctx, a.s.rdb,
		[]string{keys.Metadata(tenantID), keys.AdminKeys(tenantID), keys.AdminKeysUsed(tenantID)},
		k.ID, data, max).Int()
	if err != nil {
		return fmt.Errorf("redisstore: create admin key of %q: %w", tenantID, err)
	}
	switch res {
	case -1:
		return fmt.Errorf("redisstore: admin key of %q: %w", tenantID, store.ErrTenantNotFound)
	case -2:
		return fmt.Errorf("redisstore: admin keys of %q: %w", tenantID, store.ErrLimit)
	case 0:
		return fmt.Errorf("redisstore: admin key %q of %q: %w", k.ID, tenantID, store.ErrExists)
	}
	return nil
}

// Get returns one key with its last use. One round trip (HGET of both
// hashes in a pipeline, in the tenant's slot).
func (a *AdminKeys) Get(ctx context.Context, tenantID, keyID string) (*store.AdminKey, error) {
	if err := adminKeyArgs(tenantID, keyID); err != nil {
		return nil, err
	}
	var rec, used *redis.StringCmd
	_, err := a.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		rec = p.HGet(ctx, keys.AdminKeys(tenantID), keyID)
		used = p.HGet(ctx, keys.AdminKeysUsed(tenantID), keyID)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: admin key of %q: %w", tenantID, err)
	}
	if errors.Is(rec.Err(), redis.Nil) {
		return nil, fmt.Errorf("redisstore: admin key %q of %q: %w", keyID, tenantID, store.ErrNotFound)
	}
	k, err := decodeAdminKey(keyID, rec.Val(), used.Val())
	if err != nil {
		return nil, fmt.Errorf("redisstore: admin key %q of %q: %w", keyID, tenantID, err)
	}
	return k, nil
}

// List returns the tenant's keys by creation time (then ID). One round
// trip.
func (a *AdminKeys) List(ctx context.Context, tenantID string) ([]store.AdminKey, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	var recs, used *redis.MapStringStringCmd
	_, err := a.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		recs = p.HGetAll(ctx, keys.AdminKeys(tenantID))
		used = p.HGetAll(ctx, keys.AdminKeysUsed(tenantID))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: admin keys of %q: %w", tenantID, err)
	}
	list := make([]store.AdminKey, 0, len(recs.Val()))
	for id, rec := range recs.Val() {
		k, err := decodeAdminKey(id, rec, used.Val()[id])
		if err != nil {
			return nil, fmt.Errorf("redisstore: admin key %q of %q: %w", id, tenantID, err)
		}
		list = append(list, *k)
	}
	sortAdminKeys(list)
	return list, nil
}

// sortAdminKeys orders keys by creation time, then ID.
func sortAdminKeys(list []store.AdminKey) {
	slices.SortFunc(list, func(a, b store.AdminKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
}

func decodeAdminKey(id, rec, used string) (*store.AdminKey, error) {
	var r adminKeyRecord
	if err := json.Unmarshal([]byte(rec), &r); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	k := &store.AdminKey{ID: id, Hash: r.Hash, CreatedAt: r.CreatedAt}
	if ms, err := strconv.ParseInt(used, 10, 64); err == nil {
		k.LastUsedAt = time.UnixMilli(ms).UTC()
	}
	return k, nil
}

// Touch records the use with a script that writes only while the tenant
// and the key exist. One round trip.
func (a *AdminKeys) Touch(ctx context.Context, tenantID, keyID string, at time.Time) error {
	if err := adminKeyArgs(tenantID, keyID); err != nil {
		return err
	}
	err := adminKeyUsedScript.Run(ctx, a.s.rdb,
		[]string{keys.Metadata(tenantID), keys.AdminKeys(tenantID), keys.AdminKeysUsed(tenantID)}, keyID, at.UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("redisstore: note use of admin key of %q: %w", tenantID, err)
	}
	return nil
}

// Revoke removes the key and its last use in one MULTI (both in the
// tenant's slot). One round trip.
func (a *AdminKeys) Revoke(ctx context.Context, tenantID, keyID string) error {
	if err := adminKeyArgs(tenantID, keyID); err != nil {
		return err
	}
	var removed *redis.IntCmd
	_, err := a.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		removed = p.HDel(ctx, keys.AdminKeys(tenantID), keyID)
		p.HDel(ctx, keys.AdminKeysUsed(tenantID), keyID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: revoke admin key of %q: %w", tenantID, err)
	}
	if removed.Val() == 0 {
		return fmt.Errorf("redisstore: admin key %q of %q: %w", keyID, tenantID, store.ErrNotFound)
	}
	return nil
}
