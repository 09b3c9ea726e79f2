package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

func TestTenantKey(t *testing.T) {
	key, err := redisstore.TenantKey("acme", "cors:origins")
	require.NoError(t, err)
	assert.Equal(t, "tenant:{acme}:app:cors:origins", key)

	tests := []struct {
		id, name string
		want     error
	}{
		{"", "x", tenant.ErrInvalidID},
		{"ACME", "x", tenant.ErrInvalidID},
		{"admin", "x", tenant.ErrInvalidID},
		{"acme}", "x", tenant.ErrInvalidID},
		{"acme", "", store.ErrInvalidKey},
		{"acme", "a b", store.ErrInvalidKey},
		{"acme", "{beta}", store.ErrInvalidKey},
		{"acme", "x*", store.ErrInvalidKey},
		{"acme", strings.Repeat("x", store.MaxKeyLength+1), store.ErrInvalidKey},
	}
	for _, tt := range tests {
		key, err := redisstore.TenantKey(tt.id, tt.name)
		assert.ErrorIs(t, err, tt.want, "%q %q", tt.id, tt.name)
		assert.Empty(t, key)
	}
}

// TestTenantKeySharesTheTenantSlot: a host's key hashes to its tenant's
// slot, computed and as the cluster says.
func TestTenantKeySharesTheTenantSlot(t *testing.T) {
	for _, id := range slotIDs {
		key, err := redisstore.TenantKey(id, "flags:beta")
		require.NoError(t, err)
		assert.Equal(t, slot(keys.Metadata(id)), slot(key), key)
	}
	rdb := testredis.Cluster(t)
	for _, id := range slotIDs {
		key, err := redisstore.TenantKey(id, "flags:beta")
		require.NoError(t, err)
		got, err := rdb.ClusterKeySlot(t.Context(), key).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(crc16(id)%16384), got, "CLUSTER KEYSLOT %s", key)
	}
}

// TestTenantKeyGoesWithCascadeDelete: the host's keys of a tenant are
// removed and counted by its cascade delete; another tenant's stay.
func TestTenantKeyGoesWithCascadeDelete(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		_, _, rdb, _ := newMiniredis(t)
		testTenantKeyCascade(t, rdb)
	})
	t.Run("redis", func(t *testing.T) { testTenantKeyCascade(t, testredis.Standalone(t)) })
	t.Run("cluster", func(t *testing.T) { testTenantKeyCascade(t, testredis.Cluster(t)) })
}

func testTenantKeyCascade(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	for _, id := range []string{"acme", "acme-corp"} {
		_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err)
	}
	hostKey := func(id, name string) string {
		key, err := redisstore.TenantKey(id, name)
		require.NoError(t, err)
		return key
	}
	for _, id := range []string{"acme", "acme-corp"} {
		require.NoError(t, rdb.Set(ctx, hostKey(id, "cors:origins"), "https://app.example.com", 0).Err())
		require.NoError(t, rdb.HSet(ctx, hostKey(id, "flags"), "beta", "1").Err())
		require.NoError(t, rdb.Set(ctx, hostKey(id, "cache:x"), "v", time.Hour).Err())
	}
	n, err := s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1+3), n, "the record and the host's three keys")
	for _, name := range []string{"cors:origins", "flags", "cache:x"} {
		assert.Zero(t, rdb.Exists(ctx, hostKey("acme", name)).Val(), name)
		assert.Equal(t, int64(1), rdb.Exists(ctx, hostKey("acme-corp", name)).Val(), "acme-corp keeps %s", name)
	}
}
