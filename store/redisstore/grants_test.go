package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/store/storetest"
)

func TestGrantsConformanceMiniredis(t *testing.T) {
	storetest.RunGrants(t, func(t *testing.T) storetest.GrantsBackend {
		s, m, _, clock := newMiniredis(t)
		return storetest.GrantsBackend{
			Grants:  s.Grants(),
			Tenants: s.Tenants(),
			Advance: func(d time.Duration) { m.SetTime(clock.Advance(d)); m.FastForward(d) },
		}
	})
}

func TestGrantsConformanceRedis(t *testing.T) {
	storetest.RunGrants(t, func(t *testing.T) storetest.GrantsBackend {
		s := redisstore.New(testredis.Standalone(t), redisstore.Config{})
		return storetest.GrantsBackend{Grants: s.Grants(), Tenants: s.Tenants(), Advance: time.Sleep}
	})
}

func TestGrantsConformanceCluster(t *testing.T) {
	storetest.RunGrants(t, func(t *testing.T) storetest.GrantsBackend {
		s := redisstore.New(testredis.Cluster(t), redisstore.Config{})
		return storetest.GrantsBackend{Grants: s.Grants(), Tenants: s.Tenants(), Advance: time.Sleep}
	})
}

// TestGrantKeys checks the layout: a grant lives in its tenant's slot and
// namespace, under the ID it was given, and expires on the server.
func TestGrantKeys(t *testing.T) {
	s, m, _, _ := newMiniredis(t)
	createTenants(t, s, "acme")
	require.NoError(t, s.Grants().Put(t.Context(), "acme", store.GrantCode, "abc", []byte("x"), time.Minute))
	var data []string
	for _, k := range m.Keys() {
		if strings.HasPrefix(k, "tenant:{acme}:") {
			data = append(data, k)
		}
	}
	assert.Equal(t, []string{"tenant:{acme}:oauth:code:abc"}, data)
	assert.Equal(t, time.Minute, m.TTL("tenant:{acme}:oauth:code:abc"))
}
