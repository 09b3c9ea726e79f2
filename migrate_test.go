package tenancy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
)

func TestMigrate(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "client:a", "a", time.Hour).Err())
	require.NoError(t, rdb.Set(ctx, "session:s", "s", time.Hour).Err())
	require.NoError(t, rdb.Set(ctx, "rate-limit:x", "1", 0).Err())
	require.NoError(t, rdb.Set(ctx, "tenant:{default}:rate-limit:x", "2", 0).Err())

	var progress []tenancy.MigrateResult
	dry, err := tenancy.Migrate(ctx, rdb, tenancy.MigrateOptions{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, tenancy.MigrateResult{DryRun: true, Scanned: 3, Moved: 2, Conflicts: 1,
		ConflictKeys: []string{"rate-limit:x"}}, dry)

	res, err := tenancy.Migrate(ctx, rdb, tenancy.MigrateOptions{
		BatchSize: 1,
		Progress:  func(r tenancy.MigrateResult) { progress = append(progress, r) },
	})
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Moved)
	assert.Equal(t, int64(1), res.Conflicts)
	assert.Len(t, progress, 3, "one call per batch of one key")
	assert.Equal(t, res, progress[len(progress)-1])
	assert.Equal(t, "a", rdb.Get(ctx, "tenant:{default}:client:a").Val())

	_, err = tenancy.Migrate(ctx, rdb, tenancy.MigrateOptions{TenantID: "Bad ID"})
	assert.Error(t, err)
}

// A deployment that kept its clients at client:<id> moves them into tenant
// "default"; a second run finds nothing left to do.
func ExampleMigrate() {
	m, _ := miniredis.Run()
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	rdb.Set(ctx, "client:abc", `{"client_id":"abc"}`, 720*time.Hour)
	rdb.Set(ctx, "session:s1", `{"userId":"u1"}`, 24*time.Hour)

	res, err := tenancy.Migrate(ctx, rdb, tenancy.MigrateOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res)
	fmt.Println(rdb.Get(ctx, "tenant:{default}:client:abc").Val())

	res, _ = tenancy.Migrate(ctx, rdb, tenancy.MigrateOptions{})
	fmt.Println(res)
	// Output:
	// 2 legacy keys found: moved 2, skipped 0 (already migrated or gone)
	// {"client_id":"abc"}
	// no legacy keys found: nothing to migrate, moved 0
}
