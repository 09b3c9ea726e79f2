package main

import (
	"context"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// onEachBackend runs fn with a client and the REDIS_URL of the same
// server: miniredis, and the real Redis and the Cluster when their
// addresses are set.
func onEachBackend(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient, url string)) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		fn(t, rdb, "redis://"+m.Addr())
	})
	t.Run("redis", func(t *testing.T) {
		rdb := testredis.Standalone(t)
		fn(t, rdb, "redis://"+rdb.Options().Addr)
	})
	t.Run("cluster", func(t *testing.T) {
		rdb := testredis.Cluster(t)
		fn(t, rdb, strings.Join(testredis.ClusterAddrs(t), ","))
	})
}

// TestReindexNamesStaleAndUndecodable: -reindex names a record that does
// not decode (without quoting it) and the claims of a tenant whose delete
// failed midway, leaves the claims in place and exits 1;
// -release-stale-claims deletes them and names them; -reindex then exits
// 0 once the record is dealt with.
func TestReindexNamesStaleAndUndecodable(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, url string) {
		ctx := context.Background()
		tenants := redisstore.New(rdb, redisstore.Config{}).Tenants()
		for _, id := range []string{"acme", "gone"} {
			_, err := tenants.Create(ctx, &tenant.Tenant{ID: id, Name: id, Domain: id + ".example.com", Status: tenant.StatusActive,
				OIDC: tenant.OIDC{Issuer: "https://idp.example.com", Audience: "aud-" + id}})
			require.NoError(t, err)
		}
		// A delete that removed gone's record but not its claims.
		require.NoError(t, rdb.Del(ctx, keys.Metadata("gone")).Err())
		require.NoError(t, rdb.ZRem(ctx, keys.Index, "gone").Err())
		// A record that does not decode, holding a secret.
		require.NoError(t, rdb.Set(ctx, keys.Metadata("bad"), `{"id":"bad","oidc":{"clientSecret":"s3cr3t"`, 0).Err())
		require.NoError(t, rdb.ZAdd(ctx, keys.Index, redis.Z{Member: "bad"}).Err())
		goneDomain, gonePair := keys.Domain("gone.example.com"), keys.OIDC("https://idp.example.com", "aud-gone")

		r := runWith(t, url, "-reindex")
		assert.Equal(t, exitConflict, r.code, r.stderr)
		assert.Contains(t, r.stderr, `undecodable: "redisstore: tenant record does not decode: tenant \"bad\"`)
		assert.NotContains(t, r.stderr, "s3cr3t")
		for _, key := range []string{goneDomain, gonePair} {
			assert.Contains(t, r.stderr, `stale claim: "redisstore: stale claim: \"`+key+`\" names tenant \"gone\", which has no record"`)
			n, err := rdb.Exists(ctx, key).Result()
			require.NoError(t, err)
			assert.EqualValues(t, 1, n, "-reindex leaves %s in place", key)
		}
		assert.NotContains(t, r.stderr, "acme")
		assert.Contains(t, r.stderr, "run -release-stale-claims")
		assert.Contains(t, r.stderr, "fix or delete them")
		assert.NotContains(t, r.stderr, "share an OIDC issuer")

		r = runWith(t, url, "-release-stale-claims", "-release-pause", "10ms")
		assert.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, `released: "`+goneDomain+`"`)
		assert.Contains(t, r.stdout, `released: "`+gonePair+`"`)
		assert.Contains(t, r.stdout, "released 2 stale claims")
		for key, want := range map[string]int64{
			goneDomain: 0, gonePair: 0,
			keys.Domain("acme.example.com"): 1, keys.OIDC("https://idp.example.com", "aud-acme"): 1,
		} {
			n, err := rdb.Exists(ctx, key).Result()
			require.NoError(t, err)
			assert.Equal(t, want, n, "the stale claims are gone, the live ones stay: %s", key)
		}

		r = runWith(t, url, "-reindex")
		assert.Equal(t, exitConflict, r.code, "the record that does not decode is still there")
		assert.NotContains(t, r.stderr, "stale claim")

		require.NoError(t, rdb.Del(ctx, keys.Metadata("bad")).Err()) // the operator deletes it
		r = runWith(t, url, "-reindex")
		assert.Equal(t, exitOK, r.code, r.stderr)
		r = runWith(t, url, "-release-stale-claims", "-release-pause", "10ms")
		assert.Equal(t, exitOK, r.code, r.stderr)
		assert.Contains(t, r.stdout, "released 0 stale claims")
	})
}

func TestReleaseStaleClaimsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-reindex", "-release-stale-claims"},
		{"-release-stale-claims", "-release-pause", "0s"},
		{"-release-stale-claims", "-release-pause", "-1s"},
	} {
		r := runWith(t, "redis://localhost:1", args...)
		assert.Equal(t, exitFailure, r.code, "%v", args)
		assert.NotEmpty(t, r.stderr)
	}
}
