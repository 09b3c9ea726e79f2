package testredis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
)

// TestLocalCluster forms a cluster of three masters with a replica each,
// kills the master of one key and checks what a failover test relies on:
// the replica takes over with the key, the cluster is ok again, and the
// killed master comes back as a replica of its successor.
func TestLocalCluster(t *testing.T) {
	lc := testredis.StartCluster(t, testredis.ClusterConfig{})
	require.Len(t, lc.Addrs(), 6)
	ctx := context.Background()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: lc.Addrs()})
	t.Cleanup(func() { _ = rdb.Close() })

	masters, replicas := 0, 0
	nodes, err := rdb.ClusterNodes(ctx).Result()
	require.NoError(t, err)
	for line := range strings.Lines(nodes) {
		switch {
		case strings.Contains(line, "master"):
			masters++
		case strings.Contains(line, "slave"):
			replicas++
		}
	}
	assert.Equal(t, 3, masters)
	assert.Equal(t, 3, replicas)

	for i := range 100 {
		require.NoError(t, rdb.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err())
	}
	old := lc.MasterOf("k1")
	killed := lc.KillMaster("k1")
	assert.Equal(t, old.Addr(), killed.Addr())
	assert.False(t, killed.Running())
	lc.WaitOK()
	promoted := lc.MasterOf("k1")
	assert.NotEqual(t, killed.Addr(), promoted.Addr(), "the replica took the slot")

	// A client of the promoted node alone finds the key: nothing written
	// before the kill was lost.
	node := redis.NewClient(&redis.Options{Addr: promoted.Addr()})
	t.Cleanup(func() { _ = node.Close() })
	got, err := node.Get(ctx, "k1").Result()
	require.NoError(t, err)
	assert.Equal(t, "1", got)

	killed.Restart()
	lc.WaitOK()
	back := redis.NewClient(&redis.Options{Addr: killed.Addr()})
	t.Cleanup(func() { _ = back.Close() })
	require.Eventually(t, func() bool {
		role, err := back.Do(ctx, "role").Slice()
		return err == nil && role[0] == "slave"
	}, 30*time.Second, 50*time.Millisecond, "the old master is a replica now")
	lc.WaitReplicated()

	// A manual failover gives the slot back to the node killed above.
	demoted, back2 := lc.Failover("k1")
	assert.Equal(t, promoted.Addr(), demoted.Addr())
	assert.Equal(t, killed.Addr(), back2.Addr())
	assert.True(t, demoted.Running(), "a manual failover keeps the old master")
	assert.Equal(t, killed.Addr(), lc.MasterOf("k1").Addr())
}
