package usage_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/seedmcp/tenancy/usage"
)

// hook counts what a client sends: round trips (a command or a pipeline)
// and commands.
type hook struct {
	trips, cmds atomic.Int64
}

func (h *hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !setup(cmd) {
			h.trips.Add(1)
			h.cmds.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := int64(0)
		for _, c := range cmds {
			if !setup(c) {
				n++
			}
		}
		if n > 0 {
			h.trips.Add(1)
			h.cmds.Add(n)
		}
		return next(ctx, cmds)
	}
}

// setup reports whether cmd is one go-redis sends on a new connection.
func setup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "readonly", "cluster":
		return true
	}
	return false
}

func createTenants(t testing.TB, s *redisstore.Store, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("tenant-%04d", i)
		_, err := s.Tenants().Create(context.Background(), &tenant.Tenant{ID: ids[i], Name: ids[i], Status: tenant.StatusActive})
		require.NoError(t, err)
	}
	return ids
}

// testReplicas runs three recorders on one store, as three replicas of a
// host would: their counts add up exactly; a replica closed gracefully
// loses nothing; one killed (dropped without Close) loses what it counted
// since its last write and nothing else, which is at most one interval.
func testReplicas(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	ids := createTenants(t, s, 5)
	h := &hook{}
	rdb.AddHook(h)
	replicas := make([]*usage.Recorder, 3)
	for i := range replicas {
		r, err := usage.New(usage.Config{Store: s.Usage()})
		require.NoError(t, err)
		replicas[i] = r
	}
	// Each replica counts from several goroutines at once.
	count := func(r *usage.Recorder, perTenant int) {
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				for i := range perTenant {
					r.Served(id)
					if i%2 == 0 {
						r.ToolCall(id, "whoami")
					}
					if i%5 == 0 {
						r.RateLimited(id)
					}
				}
			})
		}
		wg.Wait()
	}
	trips := h.trips.Load()
	for i, r := range replicas {
		count(r, 100*(i+1)) // 100, 200 and 300 per tenant
	}
	assert.Equal(t, trips, h.trips.Load(), "counting costs no round trip")
	for _, r := range replicas {
		trips := h.trips.Load()
		require.NoError(t, r.Flush(ctx))
		assert.Equal(t, int64(1), h.trips.Load()-trips, "a write is one pipeline")
	}
	served := func(id string) int64 {
		rep, err := usage.Read(ctx, s.Usage(), id, today(), today())
		require.NoError(t, err)
		return rep.Total.Served
	}
	for _, id := range ids {
		rep, err := usage.Read(ctx, s.Usage(), id, today(), today())
		require.NoError(t, err)
		assert.Equal(t, int64(600), rep.Total.Served, "the replicas add up exactly: %s", id)
		assert.Equal(t, int64(50+100+150), rep.Total.ToolCalls["whoami"], id)
		assert.Equal(t, int64(20+40+60), rep.Total.RateLimited, id)
	}

	// Replica 0 is stopped gracefully: Close writes what it counted.
	count(replicas[0], 7)
	require.NoError(t, replicas[0].Close(ctx))
	// Replica 1 writes at an interval, counts on, then dies.
	count(replicas[1], 11)
	require.NoError(t, replicas[1].Flush(ctx)) // its last interval's write
	count(replicas[1], 13)                     // counted after it: lost with the process
	replicas[1] = nil
	// Replica 2 lives on and writes as usual.
	count(replicas[2], 17)
	require.NoError(t, replicas[2].Flush(ctx))
	for _, id := range ids {
		assert.Equal(t, int64(600+7+11+17), served(id),
			"nothing of the closed replica is lost; the killed one loses only its 13 since its last write: %s", id)
	}
}

func today() string { return time.Now().UTC().Format(store.DateLayout) }

func TestReplicasRedis(t *testing.T)   { testReplicas(t, testredis.Standalone(t)) }
func TestReplicasCluster(t *testing.T) { testReplicas(t, testredis.Cluster(t)) }

// wire counts the bytes a connection sends and receives.
type wire struct {
	net.Conn
	out, in *atomic.Int64
}

func (w wire) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	w.out.Add(int64(n))
	return n, err
}
func (w wire) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	w.in.Add(int64(n))
	return n, err
}

// TestFlushCost measures one interval's write with 1,000 active tenants:
// one pipeline of one script call per tenant, and the bytes and time it
// takes (logged for the benchmarks; only the counts are asserted).
func TestFlushCost(t *testing.T) {
	addr := testredis.Addr(t)
	testredis.Standalone(t) // lock and empty the server for this test
	var out, in atomic.Int64
	rdb := redis.NewClient(&redis.Options{Addr: addr, Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wire{Conn: c, out: &out, in: &in}, nil
	}})
	t.Cleanup(func() { _ = rdb.Close() })
	s := redisstore.New(rdb, redisstore.Config{})
	ctx := t.Context()
	require.NoError(t, s.LoadScripts(ctx))
	ids := createTenants(t, s, 1000)
	h := &hook{}
	rdb.AddHook(h)
	r, err := usage.New(usage.Config{Store: s.Usage()})
	require.NoError(t, err)

	require.NoError(t, rdb.ConfigResetStat(ctx).Err())
	const rounds = 5
	var total time.Duration
	var cmds, trips, sent, received int64
	for range rounds {
		for _, id := range ids {
			for range 10 {
				r.Served(id)
			}
			r.SessionOpened(id)
			r.ToolCall(id, "whoami")
			r.ToolCall(id, "search")
		}
		h.cmds.Store(0)
		h.trips.Store(0)
		out.Store(0)
		in.Store(0)
		start := time.Now()
		require.NoError(t, r.Flush(ctx))
		total += time.Since(start)
		cmds += h.cmds.Load()
		trips += h.trips.Load()
		sent += out.Load()
		received += in.Load()
	}
	assert.Equal(t, int64(rounds), trips, "one pipeline per write")
	assert.Equal(t, int64(rounds*1000), cmds, "one script call per active tenant")
	t.Logf("flush of 1,000 active tenants (served, sessionsOpened, 2 tools each): %d commands in %d pipeline, %d bytes sent, %d received, %v per write (mean of %d)",
		cmds/rounds, trips/rounds, sent/rounds, received/rounds, total/rounds, rounds)
	stats, err := rdb.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	for line := range strings.SplitSeq(stats, "\r\n") {
		if strings.HasPrefix(line, "cmdstat_evalsha:") {
			t.Logf("on the server: %s", line)
		}
	}
	rep, err := usage.Read(ctx, s.Usage(), ids[999], today(), today())
	require.NoError(t, err)
	assert.Equal(t, int64(10*rounds), rep.Total.Served)
}
