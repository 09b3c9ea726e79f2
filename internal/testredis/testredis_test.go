package testredis_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
)

func TestStandalone(t *testing.T) {
	c := testredis.Standalone(t)
	ctx := context.Background()

	require.NoError(t, c.Ping(ctx).Err())
	require.NoError(t, c.Set(ctx, "testredis:ping", "pong", time.Minute).Err())
	got, err := c.Get(ctx, "testredis:ping").Result()
	require.NoError(t, err)
	assert.Equal(t, "pong", got)

	// A standalone server must not be a cluster node: tests that use it
	// rely on keys of any slot living together.
	info, err := c.Info(ctx, "cluster").Result()
	require.NoError(t, err)
	assert.Contains(t, info, "cluster_enabled:0")
}

func TestCluster(t *testing.T) {
	c := testredis.Cluster(t)
	ctx := context.Background()

	require.NoError(t, c.Ping(ctx).Err())
	info, err := c.ClusterInfo(ctx).Result()
	require.NoError(t, err)
	assert.Contains(t, info, "cluster_state:ok")
	assert.Contains(t, info, "cluster_size:3") // masters that serve slots

	var masters atomic.Int32 // ForEachMaster runs its callbacks concurrently.
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		masters.Add(1)
		return m.Ping(ctx).Err()
	}))
	assert.Equal(t, int32(3), masters.Load())

	// Write one key to every master, choosing keys by the slot map, and
	// read each back both through the cluster client and from the node
	// that owns its slot: proof that the client follows the slot map.
	//lint:ignore SA1019 CLUSTER SLOTS answers on every Redis this project supports (7.0 included)
	slots, err := c.ClusterSlots(ctx).Result()
	require.NoError(t, err)
	owner := func(slot int64) string {
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) {
				return s.Nodes[0].Addr
			}
		}
		t.Fatalf("slot %d has no owner", slot)
		return ""
	}
	keys := map[string]string{} // master address -> key stored there
	for i := 0; len(keys) < 3 && i < 1000; i++ {
		key := fmt.Sprintf("testredis:{%d}", i)
		slot, err := c.ClusterKeySlot(ctx, key).Result()
		require.NoError(t, err)
		if addr := owner(slot); keys[addr] == "" {
			keys[addr] = key
		}
	}
	require.Len(t, keys, 3, "keys on three different masters")

	for addr, key := range keys {
		require.NoError(t, c.Set(ctx, key, addr, time.Minute).Err())
	}
	for addr, key := range keys {
		got, err := c.Get(ctx, key).Result()
		require.NoError(t, err, key)
		assert.Equal(t, addr, got, key)

		node := redis.NewClient(&redis.Options{Addr: addr})
		got, err = node.Get(ctx, key).Result()
		_ = node.Close()
		require.NoError(t, err, "%s on its own node %s", key, addr)
		assert.Equal(t, addr, got)
	}
}

// TestMissingServers runs the two tests above again in a child process
// without the addresses, to check that a missing server skips a test by default and fails it under
// TENANCY_REQUIRE_REDIS=1 (so CI cannot pass by skipping every integration
// test).
func TestMissingServers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		require string
		fails   bool
		output  string
	}{
		{name: "skips by default", require: "", fails: false, output: "--- SKIP: TestStandalone"},
		{name: "fails when required", require: "1", fails: true, output: "--- FAIL: TestStandalone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^(TestStandalone|TestCluster)$", "-test.v", "-test.count=1")
			cmd.Env = append(without(os.Environ(), testredis.EnvAddr, testredis.EnvClusterAddrs, testredis.EnvRequire),
				testredis.EnvRequire+"="+tc.require)
			out, err := cmd.CombinedOutput()
			if tc.fails {
				require.Error(t, err, "%s", out)
				assert.Contains(t, string(out), testredis.EnvAddr+" is not set")
			} else {
				require.NoError(t, err, "%s", out)
			}
			assert.Contains(t, string(out), tc.output)
			assert.Contains(t, string(out), strings.Replace(tc.output, "TestStandalone", "TestCluster", 1))
		})
	}
}

// without returns env minus the variables named.
func without(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
