package migrate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
)

// refusedNames are legacy names whose ID or key the store refuses.
var refusedNames = []string{
	"client:{evil}",
	"client:a}b",
	"client:",
	"session:bin\x00\xff",
	"session:\x1b[2J\rmigrate: 0 legacy keys, all fine",
	"session:é",
	"rate-limit:a b",
	"rate-limit:*",
	"client:" + strings.Repeat("k", 100<<10),
}

// seedRefused writes every kind of legacy key the store would refuse, and
// one it accepts; it returns the refused names.
func seedRefused(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	ctx := context.Background()
	for _, k := range refusedNames {
		require.NoError(t, rdb.Set(ctx, k, "v", time.Hour).Err())
	}
	wrongType := []string{"client:hash", "session:list", "rate-limit:set", "session:zset", "client:stream"}
	require.NoError(t, rdb.HSet(ctx, "client:hash", "client_id", "hash").Err())
	require.NoError(t, rdb.RPush(ctx, "session:list", "a").Err())
	require.NoError(t, rdb.SAdd(ctx, "rate-limit:set", "a").Err())
	require.NoError(t, rdb.ZAdd(ctx, "session:zset", redis.Z{Score: 1, Member: "a"}).Err())
	require.NoError(t, rdb.XAdd(ctx, &redis.XAddArgs{Stream: "client:stream", Values: []any{"a", "1"}}).Err())
	require.NoError(t, rdb.Set(ctx, "client:ok", `{"client_id":"ok"}`, time.Hour).Err())
	return append(append([]string{}, refusedNames...), wrongType...)
}

// TestRunLeavesKeysTheStoreRefuses is the regression test of legacy keys
// named {evil}, with binary bytes or 100 KB long, or of another type than
// a string, being moved and indexed, where they counted against maxClients
// and maxSessions until the tenant was deleted. They are reported and left
// in place, by every strategy, in a dry run too, and again on a later run.
func TestRunLeavesKeysTheStoreRefuses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		refused := seedRefused(t, rdb)
		before := allKeys(t, rdb)

		dry := opts
		dry.DryRun = true
		res, err := runWith(ctx, rdb, dry)
		require.NoError(t, err)
		assert.Equal(t, int64(len(refused)), res.Refused)
		assert.ElementsMatch(t, refused, res.RefusedKeys)
		assert.Equal(t, int64(1), res.Moved)
		assert.Equal(t, res.Scanned, res.Moved+res.Refused)
		assert.Equal(t, before, allKeys(t, rdb), "a dry run writes nothing")

		for run := range 2 {
			res, err := runWith(ctx, rdb, opts)
			require.NoError(t, err)
			assert.Equal(t, int64(len(refused)), res.Refused, "run %d", run)
			assert.ElementsMatch(t, refused, res.RefusedKeys, "run %d", run)
			assert.Equal(t, int64(1-run), res.Moved, "run %d", run)
			assert.Zero(t, res.Conflicts)
			assert.Contains(t, res.String(), "keys the store refuses left in place")
		}
		for _, k := range refused {
			assert.Equal(t, int64(1), rdb.Exists(ctx, k).Val(), "%q stays", k)
			assert.Zero(t, rdb.Exists(ctx, keys.Tenant("default", k)).Val(), "%q is not moved", k)
		}
		assert.Equal(t, []string{"ok"}, rdb.ZRange(ctx, keys.Clients("default"), 0, -1).Val(), "only the accepted client is indexed")
		assert.Zero(t, rdb.Exists(ctx, keys.Sessions("default")).Val(), "no session was indexed")
		assert.Equal(t, "hash", rdb.HGet(ctx, "client:hash", "client_id").Val())
	})
}

// TestRunRefusesNamesOfOtherPatterns: under a pattern of the host's own,
// the whole name must pass the store's key rule, while any type moves,
// since the store reads no such keys.
func TestRunRefusesNamesOfOtherPatterns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, rdb redis.UniversalClient, opts options) {
		ctx := context.Background()
		require.NoError(t, rdb.Set(ctx, "custom:{x}", "x", 0).Err())
		require.NoError(t, rdb.Set(ctx, "custom:a b", "x", 0).Err())
		// miniredis's DUMP serialises strings only, so its cross-slot
		// path cannot move a hash; real servers can.
		hash := !strings.HasSuffix(t.Name(), "miniredis/cross-slot")
		if hash {
			require.NoError(t, rdb.HSet(ctx, "custom:h", "f", "v").Err())
		} else {
			require.NoError(t, rdb.Set(ctx, "custom:h", "v", 0).Err())
		}
		opts.Patterns = []string{"custom:*"}
		res, err := runWith(ctx, rdb, opts)
		require.NoError(t, err)
		assert.Equal(t, int64(1), res.Moved)
		assert.ElementsMatch(t, []string{"custom:{x}", "custom:a b"}, res.RefusedKeys)
		if hash {
			assert.Equal(t, "v", rdb.HGet(ctx, keys.Tenant("default", "custom:h"), "f").Val())
		}
	})
}
