package tenancy

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// classicCluster hides that a client is a *redis.ClusterClient, so that the
// library treats it as a single node: classic pub/sub (SUBSCRIBE and
// PUBLISH, which a cluster broadcasts to every node) instead of sharded. The
// fan-out measurement uses it to compare the two on the same cluster.
type classicCluster struct{ *redis.ClusterClient }

// TestFanout measures how an admin change reaches many replicas of a host:
// TENANCY_FANOUT_REPLICAS Services (default 50) in this process, each with
// its own cluster client, on a cluster of three masters with a replica
// each; TENANCY_FANOUT_CHANGES updates of one tenant (default 200), 20 ms
// apart, made through another Store. For each change, the time from the
// start of the update to the last replica applying its event (its caches
// updated and its OnEvent hooks run), and the Redis commands and cluster
// bus messages all nodes handled per change, for classic and sharded
// pub/sub in alternating rounds (TENANCY_FANOUT_ROUNDS per kind, default
// 2). A measurement, not a check: it runs only with TENANCY_FANOUT=1.
//
//	TENANCY_FANOUT=1 taskset -c 0,1 go test -run TestFanout -v -timeout 30m .
func TestFanout(t *testing.T) {
	if os.Getenv("TENANCY_FANOUT") != "1" {
		t.Skip("a measurement: set TENANCY_FANOUT=1 to run it")
	}
	n := envInt(t, "TENANCY_FANOUT_REPLICAS", 50)
	changes := envInt(t, "TENANCY_FANOUT_CHANGES", 200)
	rounds := envInt(t, "TENANCY_FANOUT_ROUNDS", 2)
	lc := testredis.StartCluster(t, testredis.ClusterConfig{})

	results := map[string][]fanoutResult{}
	for round := range 2 * rounds {
		kind := []string{"classic", "sharded"}[round%2]
		res := fanoutRound(t, lc, kind, n, changes)
		results[kind] = append(results[kind], res)
		t.Logf("round %d %s: %s", round+1, kind, res)
	}
	for _, kind := range []string{"classic", "sharded"} {
		var all []time.Duration
		for _, r := range results[kind] {
			all = append(all, r.spread...)
		}
		slices.Sort(all)
		t.Logf("%s, %d replicas, %d changes: apply on every replica p50 %v, p99 %v, max %v",
			kind, n, len(all), pct(all, 50), pct(all, 99), all[len(all)-1])
	}
}

// fanoutResult is one round of TestFanout.
type fanoutResult struct {
	spread   []time.Duration // per change: start of the update to the last replica applying it
	commands map[string]float64
	bus      map[string]float64
}

func (r fanoutResult) String() string {
	s := slices.Clone(r.spread)
	slices.Sort(s)
	var b strings.Builder
	fmt.Fprintf(&b, "p50 %v p99 %v max %v; per change:", pct(s, 50), pct(s, 99), s[len(s)-1])
	for _, m := range []map[string]float64{r.commands, r.bus} {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			if m[k] >= 0.05 {
				fmt.Fprintf(&b, " %s %.2f", k, m[k])
			}
		}
	}
	return b.String()
}

// fanoutRound starts n Services of the given kind, makes the changes and
// returns what they cost.
func fanoutRound(t *testing.T, lc *testredis.LocalCluster, kind string, n, changes int) fanoutResult {
	ctx := context.Background()
	newClient := func() redis.UniversalClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: lc.Addrs()})
		if kind == "classic" {
			return classicCluster{c}
		}
		return c
	}
	writerClient := newClient()
	defer writerClient.Close()
	writer := redisstore.New(writerClient, redisstore.Config{})
	id := "fanout-" + kind
	tn, err := writer.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
	require.NoError(t, err)

	var mu sync.Mutex
	seen := make([][]time.Time, n) // replica -> when it applied each change
	for i := range n {
		c := newClient()
		s, err := New(Config{Redis: c, MultiTenant: true, Identification: ByHeader, Logger: quiet,
			Cache: middleware.CacheConfig{TTL: time.Hour}})
		require.NoError(t, err)
		s.OnEvent(func(e store.Event) {
			if e.Type == store.EventUpdated && e.TenantID == id {
				mu.Lock()
				seen[i] = append(seen[i], time.Now())
				mu.Unlock()
			}
		})
		defer func() {
			_ = s.Close()
			_ = c.Close()
		}()
		waitSubscribed(t, s)
	}
	time.Sleep(time.Second) // let the start-up reads settle

	beforeCmds, beforeBus := clusterCounters(t, lc)
	start := make([]time.Time, changes)
	for k := range changes {
		tn.Name = fmt.Sprintf("%s-%d", id, k)
		start[k] = time.Now()
		_, err := writer.Tenants().Update(ctx, tn)
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen {
			if len(s) < changes {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "every replica applies every change")
	time.Sleep(200 * time.Millisecond) // the caches' reads after the last event
	afterCmds, afterBus := clusterCounters(t, lc)

	res := fanoutResult{commands: map[string]float64{}, bus: map[string]float64{}}
	for k := range changes {
		var last time.Time
		for _, s := range seen {
			if s[k].After(last) {
				last = s[k]
			}
		}
		res.spread = append(res.spread, last.Sub(start[k]))
	}
	for name, v := range afterCmds {
		res.commands[name] = float64(v-beforeCmds[name]) / float64(changes)
	}
	for name, v := range afterBus {
		res.bus[name] = float64(v-beforeBus[name]) / float64(changes)
	}
	_, err = writer.Tenants().Delete(ctx, id)
	require.NoError(t, err)
	return res
}

// clusterCounters returns the calls of each command summed over the
// masters and over the replicas (INFO commandstats; a replica counts the
// writes it applies from its master), and the cluster bus messages of
// pub/sub sent by every node (CLUSTER INFO).
func clusterCounters(t *testing.T, lc *testredis.LocalCluster) (cmds, bus map[string]int64) {
	ctx := context.Background()
	cmds, bus = map[string]int64{}, map[string]int64{}
	for _, addr := range lc.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		repl, err := c.Info(ctx, "replication").Result()
		require.NoError(t, err)
		role := "master"
		if strings.Contains(repl, "role:slave") {
			role = "replica"
		}
		info, err := c.Info(ctx, "commandstats").Result()
		require.NoError(t, err)
		sc := bufio.NewScanner(strings.NewReader(info))
		for sc.Scan() {
			// cmdstat_get:calls=12,usec=...
			name, rest, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "cmdstat_"), ":calls=")
			if !ok {
				continue
			}
			switch name {
			case "info", "cluster|info", "hello", "client|setinfo":
				continue // this measurement's own
			}
			calls, _, _ := strings.Cut(rest, ",")
			v, _ := strconv.ParseInt(calls, 10, 64)
			cmds[role+":"+name] += v
		}
		ci, err := c.ClusterInfo(ctx).Result()
		require.NoError(t, err)
		sc = bufio.NewScanner(strings.NewReader(ci))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
			if ok && strings.HasPrefix(k, "cluster_stats_messages_publish") && strings.HasSuffix(k, "_sent") {
				x, _ := strconv.ParseInt(v, 10, 64)
				bus["bus:"+strings.TrimPrefix(k, "cluster_stats_messages_")] += x
			}
		}
		_ = c.Close()
	}
	return cmds, bus
}

// pct returns the p-th percentile of sorted.
func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(10 * time.Microsecond)
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	require.Positive(t, n, name)
	return n
}
