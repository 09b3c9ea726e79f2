package migrate_test

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/migrate"
)

// The defaults cannot be changed by a caller: each call is a new slice.
func TestDefaultPatternsIsFresh(t *testing.T) {
	p := migrate.DefaultPatterns()
	assert.Equal(t, []string{"client:*", "session:*", "rate-limit:*"}, p)
	p[0] = "everything:*"
	assert.Equal(t, "client:*", migrate.DefaultPatterns()[0])
}

func TestTarget(t *testing.T) {
	assert.Equal(t, "tenant:{default}:client:abc", migrate.Target("default", "client:abc"))
	assert.Equal(t, "tenant:{acme}:rate-limit:x", migrate.Target("acme", "rate-limit:x"))
}

// Run through the public API: a dry run counts, a run with batches of one
// reports progress once a batch, and a conflict is named by its legacy key
// while its Target keeps what it held.
func TestRunPublic(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "client:a", "a", time.Hour).Err())
	require.NoError(t, rdb.Set(ctx, "session:s", "s", time.Hour).Err())
	require.NoError(t, rdb.Set(ctx, "rate-limit:x", "1", 0).Err())
	require.NoError(t, rdb.Set(ctx, migrate.Target("default", "rate-limit:x"), "2", 0).Err())

	dry, err := migrate.Run(ctx, rdb, migrate.Config{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, migrate.Result{DryRun: true, Scanned: 3, Moved: 2, Conflicts: 1,
		ConflictKeys: []string{"rate-limit:x"}}, dry)

	var progress []migrate.Result
	res, err := migrate.Run(ctx, rdb, migrate.Config{
		BatchSize: 1,
		Progress:  func(r migrate.Result) { progress = append(progress, r) },
	})
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Moved)
	assert.Equal(t, int64(1), res.Conflicts)
	assert.Len(t, progress, 3, "one call per batch of one key")
	assert.Equal(t, res, progress[len(progress)-1])
	assert.Equal(t, "a", rdb.Get(ctx, migrate.Target("default", "client:a")).Val())
	assert.Equal(t, "2", rdb.Get(ctx, migrate.Target("default", "rate-limit:x")).Val())

	_, err = migrate.Run(ctx, rdb, migrate.Config{TenantID: "Bad ID"})
	assert.ErrorIs(t, err, migrate.ErrConfig)
	_, err = migrate.Run(ctx, (*redis.Client)(nil), migrate.Config{})
	assert.ErrorIs(t, err, migrate.ErrConfig, "a nil client is refused, not used")
}
