package redisstore_test

import (
	"strings"
	"testing"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crc16 is the CRC-16/XMODEM of Redis Cluster's key distribution (polynomial
// 0x1021, initial value 0), bit by bit: slow and obviously right.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slot returns the cluster slot of key, hash tags included, as the Redis
// Cluster specification defines it: the part between the first '{' and
// the first '}' after it, when that part is not empty.
func slot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) % 16384
}

// tenantKeys returns one key of every kind a tenant has.
func tenantKeys(id string) []string {
	return []string{
		keys.Metadata(id),
		keys.Client(id, "c1"),
		keys.Client(id, "https://client.example.com/{x}"),
		keys.Clients(id),
		keys.Session(id, "s1"),
		keys.Sessions(id),
		keys.RateLimit(id, "ip:2001:db8::1"),
		keys.Tenant(id, "client:legacy"),
	}
}

var slotIDs = []string{"acme", "acme-corp", "acme2", "default", "a", strings.Repeat("z", 63)}

func TestCRC16(t *testing.T) {
	// The check value of CRC-16/XMODEM and slots given in the Redis Cluster
	// specification and by CLUSTER KEYSLOT.
	assert.Equal(t, uint16(0x31c3), crc16("123456789"))
	assert.Equal(t, uint16(12182), slot("foo"))
	assert.Equal(t, uint16(slot("bar")), slot("{bar}baz"))
	assert.Equal(t, slot("{}x"), crc16("{}x")%16384, "an empty tag is no tag")
}

func TestTenantKeysShareOneSlot(t *testing.T) {
	for _, id := range slotIDs {
		want := crc16(id) % 16384
		for _, key := range tenantKeys(id) {
			assert.Equal(t, want, slot(key), "%s of tenant %s", key, id)
		}
	}
}

func TestTenantKeysShareOneSlotOnCluster(t *testing.T) {
	rdb := testredis.Cluster(t)
	ctx := t.Context()
	for _, id := range slotIDs {
		want := int64(crc16(id) % 16384)
		for _, key := range tenantKeys(id) {
			got, err := rdb.ClusterKeySlot(ctx, key).Result()
			require.NoError(t, err)
			assert.Equal(t, want, got, "CLUSTER KEYSLOT %s", key)
		}
	}
}

// TestScriptsOnCluster runs every script of the store on the real cluster,
// for tenants whose keys live on different masters.
func TestScriptsOnCluster(t *testing.T) {
	rdb := testredis.Cluster(t)
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	require.NoError(t, s.LoadScripts(ctx))

	masters := map[string]bool{}
	for _, id := range []string{"acme", "beta", "gamma", "delta", "epsilon", "zeta"} {
		node, err := rdb.MasterForKey(ctx, keys.Prefix(id))
		require.NoError(t, err)
		masters[node.String()] = true
		createTenants(t, s, id)

		for i := range 3 {
			d, err := s.Allow(ctx, id, "k", 2)
			require.NoError(t, err)
			assert.Equal(t, i < 2, d.Allowed, "%s request %d", id, i)
		}
		require.NoError(t, s.Clients().Register(ctx, id, clientNamed("c1"), 1))
		require.Error(t, s.Clients().Register(ctx, id, clientNamed("c2"), 1))
		require.NoError(t, s.Clients().Delete(ctx, id, "c1"))
		_, err = s.Sessions().Create(ctx, id, "s1", "u", 1)
		require.NoError(t, err)
		require.NoError(t, s.Sessions().Touch(ctx, id, "s1"))
	}
	assert.Greater(t, len(masters), 1, "the tenants span several masters")
}
