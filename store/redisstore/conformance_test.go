package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/store/storetest"
	"github.com/stretchr/testify/require"
)

// Lifetimes for the backends on real servers, where the suite waits them
// out in real time.
const (
	realClientTTL  = 2 * time.Second
	realSessionTTL = 2 * time.Second
)

// newMiniredis returns a store on a fresh miniredis whose clock (TIME, key
// expiry) and the store's record clock both follow a fake clock.
func newMiniredis(t *testing.T) (*redisstore.Store, *miniredis.Miniredis, *redis.Client, *testclock.Clock) {
	m := miniredis.RunT(t)
	clock := testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 123456789, time.UTC))
	m.SetTime(clock.Now())
	m.ClockTTL(true) // TTLs follow SetTime, coherent with TIME
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return redisstore.New(rdb, redisstore.Config{Clock: clock.Now}), m, rdb, clock
}

// onEachBackend runs fn on miniredis, and on the real Redis and the
// Cluster when their addresses are set.
func onEachBackend(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient)) {
	t.Run("miniredis", func(t *testing.T) {
		_, _, rdb, _ := newMiniredis(t)
		fn(t, rdb)
	})
	t.Run("redis", func(t *testing.T) { fn(t, testredis.Standalone(t)) })
	t.Run("cluster", func(t *testing.T) { fn(t, testredis.Cluster(t)) })
}

// backend wraps s for the suite.
func backend(s *redisstore.Store) storetest.Backend {
	return storetest.Backend{
		Tenants:  s.Tenants(),
		Clients:  s.Clients(),
		Sessions: s.Sessions(),
		Limiter:  s,
		Events:   s,
	}
}

func TestConformanceMiniredis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		s, m, _, clock := newMiniredis(t)
		b := backend(s)
		b.Advance = func(d time.Duration) { m.SetTime(clock.Advance(d)) }
		b.ClientTTL, b.SessionTTL = redisstore.DefaultClientTTL, redisstore.DefaultSessionTTL
		b.Interrupt = func() {
			m.Close()
			require.NoError(t, m.Restart())
		}
		return b
	})
}

func TestConformanceRedis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		rdb := testredis.Standalone(t)
		b := backend(redisstore.New(rdb, redisstore.Config{ClientTTL: realClientTTL, SessionTTL: realSessionTTL}))
		b.Advance, b.RealTime = time.Sleep, true
		b.ClientTTL, b.SessionTTL = realClientTTL, realSessionTTL
		b.Interrupt = func() {
			require.NoError(t, rdb.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Err())
		}
		return b
	})
}

func TestConformanceCluster(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		rdb := testredis.Cluster(t)
		b := backend(redisstore.New(rdb, redisstore.Config{ClientTTL: realClientTTL, SessionTTL: realSessionTTL}))
		b.Advance, b.RealTime = time.Sleep, true
		b.ClientTTL, b.SessionTTL = realClientTTL, realSessionTTL
		b.Interrupt = func() {
			err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
				return m.ClientKillByFilter(ctx, "TYPE", "pubsub").Err()
			})
			require.NoError(t, err)
		}
		return b
	})
}

// counter is a go-redis hook that counts round trips (a command or a whole
// pipeline) and remembers the commands sent. The commands go-redis sends
// to set up a new connection (HELLO, CLIENT SETINFO) are not counted: they
// are paid once per pooled connection, not per operation.
type counter struct {
	n    atomic.Int64
	mu   sync.Mutex
	sent [][]string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !connSetup(cmd) {
			c.n.Add(1)
		}
		c.record(cmd)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		setup := true
		for _, cmd := range cmds {
			setup = setup && connSetup(cmd)
			c.record(cmd)
		}
		if !setup {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

func (c *counter) record(cmd redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	args := make([]string, len(cmd.Args()))
	for i, a := range cmd.Args() {
		args[i] = fmt.Sprint(a)
	}
	args[0] = strings.ToLower(args[0])
	c.sent = append(c.sent, args)
}

// args returns the commands sent so far, each with its arguments.
func (c *counter) args() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.sent...)
}

// connSetup reports whether cmd is one go-redis sends on a new connection.
func connSetup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "readonly":
		return true
	}
	return false
}
