package testredis_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
)

// TestRedisUpScript runs scripts/redis-up.sh in a state directory of its
// own and checks the servers CI tests against: a standalone Redis, and a
// cluster of three masters with a replica each, synced, with a short node
// timeout; a second run reuses them; redis-down.sh stops them all.
func TestRedisUpScript(t *testing.T) {
	for _, bin := range []string{"redis-server", "redis-cli", "bash"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv(testredis.EnvRequire) == "1" {
				t.Fatalf("%s not found but %s=1", bin, testredis.EnvRequire)
			}
			t.Skipf("%s not installed", bin)
		}
	}
	scripts, err := filepath.Abs("../../scripts")
	require.NoError(t, err)
	state := filepath.Join(t.TempDir(), "redis")
	run := func(name string) string {
		cmd := exec.Command("bash", filepath.Join(scripts, name))
		cmd.Env = append(os.Environ(), "TENANCY_REDIS_STATE_DIR="+state)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "%s: %s", name, stderr.String())
		return string(out)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(state); err == nil {
			run("redis-down.sh")
		}
	})

	env := run("redis-up.sh")
	vars := map[string]string{}
	for line := range strings.Lines(env) {
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		require.True(t, ok, line)
		vars[k] = v
	}
	require.Contains(t, vars, testredis.EnvAddr)
	addrs := strings.Split(vars[testredis.EnvClusterAddrs], ",")
	require.Len(t, addrs, 6, "every node of the cluster is a seed")

	ctx := context.Background()
	standalone := redis.NewClient(&redis.Options{Addr: vars[testredis.EnvAddr]})
	t.Cleanup(func() { _ = standalone.Close() })
	require.NoError(t, standalone.Ping(ctx).Err())

	roles := map[string]int{}
	for i, addr := range addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		info, err := node.Info(ctx, "replication").Result()
		require.NoError(t, err, addr)
		role := field(info, "role")
		roles[role]++
		if i < 3 {
			assert.Equal(t, "master", role, "%s: masters come first", addr)
			assert.Equal(t, "1", field(info, "connected_slaves"), addr)
		} else {
			assert.Equal(t, "slave", role, addr)
			assert.Equal(t, "up", field(info, "master_link_status"), "%s has synced", addr)
		}
		timeout, err := node.ConfigGet(ctx, "cluster-node-timeout").Result()
		require.NoError(t, err)
		assert.Equal(t, "1500", timeout["cluster-node-timeout"], "failovers take seconds")
		_ = node.Close()
	}
	assert.Equal(t, map[string]int{"master": 3, "slave": 3}, roles)

	assert.Equal(t, env, run("redis-up.sh"), "a second run reuses the healthy servers")
	run("redis-down.sh")
	_, err = os.Stat(state)
	assert.True(t, os.IsNotExist(err), "redis-down.sh removes the state directory")
	assert.Error(t, standalone.Ping(ctx).Err(), "the servers are stopped")
}

// field returns the value of name in INFO text.
func field(info, name string) string {
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == name {
			return v
		}
	}
	return ""
}
