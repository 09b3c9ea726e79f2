package middleware

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/redisstore"
)

// countingLeaser passes leases through to a store and keeps the books of
// one replica: what it was granted and what it gave back.
type countingLeaser struct {
	store.Leaser
	mu       sync.Mutex
	calls    []leaseCall
	granted  int
	returned int
}

func (c *countingLeaser) Lease(ctx context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	l, err := c.Leaser.Lease(ctx, tenantID, key, limit, want, unused)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, leaseCall{tenantID + "/" + key, want, unused})
	if err == nil {
		c.granted += l.Granted
		c.returned += unused
	}
	return l, err
}

// books returns the calls so far, and the requests granted and given back.
func (c *countingLeaser) books() ([]leaseCall, int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]leaseCall(nil), c.calls...), c.granted, c.returned
}

// TestLeaseHeadersMatchExactLimiter runs one replica spending leases and
// an exact limiter (one store call per request) side by side on the same
// clock, over bursts past the budget with time moving between requests and
// leases lapsing: every answer is the same, headers included. (Time moves
// by less than one request's refill between requests, and by more only
// when the budget is far from full: a lease held while the budget fills
// up is the excess the bound allows, which an exact limiter cannot have.)
func TestLeaseHeadersMatchExactLimiter(t *testing.T) {
	const limit = 600
	clock := newFakeClock()
	leased := memstore.New(memstore.Config{Clock: clock.Now})
	exact := memstore.New(memstore.Config{Clock: clock.Now})
	lc := &countingLeaser{Leaser: leased}
	h := newLimited(t, lc, RateLimitConfig{Now: clock.Now})
	tn := limitedTenant("acme", limit)
	rng := rand.New(rand.NewPCG(5, 6))
	answers, lapses := 0, 0
	for burst := range 8 {
		for i := range 1000 {
			rec := serveAs(context.Background(), h, tn)
			d, err := exact.Allow(context.Background(), "acme", "requests", limit)
			require.NoError(t, err)
			what := "burst " + strconv.Itoa(burst) + " request " + strconv.Itoa(i)
			require.Equal(t, d.Allowed, rec.Code == http.StatusOK, what)
			require.Equal(t, strconv.Itoa(limit), rec.Header().Get("RateLimit-Limit"), what)
			require.Equal(t, strconv.Itoa(d.Remaining), rec.Header().Get("RateLimit-Remaining"), what)
			require.Equal(t, strconv.Itoa(httpx.CeilSeconds(d.Reset)), rec.Header().Get("RateLimit-Reset"), what)
			answers++
			if !d.Allowed {
				ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
				require.NoError(t, err)
				assert.GreaterOrEqual(t, ra, httpx.CeilSeconds(d.RetryAfter), "Retry-After is never earlier than the store's")
				break
			}
			step := time.Duration(rng.IntN(100)) * time.Millisecond
			if d.Remaining < limit/2 && rng.IntN(40) == 0 {
				step = 2500 * time.Millisecond // past the lease's lifetime
				lapses++
			}
			clock.Advance(step)
		}
		// A full refill: both budgets are full again.
		clock.Advance(time.Minute + time.Duration(rng.IntN(30))*time.Second)
	}
	calls, _, returned := lc.books()
	t.Logf("%d answers, %d lease calls, %d lapses, %d requests given back", answers, len(calls), lapses, returned)
	assert.Greater(t, answers, 4000)
	assert.Positive(t, returned, "leases lapsed and were given back")
	assert.Less(t, len(calls), answers/5, "leases spare store calls")
}

// leaseEnv is one store under the three-replica test.
type leaseEnv struct {
	st      store.Leaser
	now     func() time.Time
	advance func(time.Duration) // a fake clock moves, a real one is waited for
	real    bool
	// stop and start, if set, stop the store's server and start it again
	// with its data.
	stop, start func()
}

func TestLeasesThreeReplicas(t *testing.T) {
	fake := func(t *testing.T) (*testclock.Clock, func(time.Duration)) {
		clock := newFakeClock()
		return clock, func(d time.Duration) { clock.Advance(d) }
	}
	t.Run("memstore", func(t *testing.T) {
		clock, advance := fake(t)
		testThreeReplicas(t, leaseEnv{st: memstore.New(memstore.Config{Clock: clock.Now}), now: clock.Now, advance: advance})
	})
	t.Run("miniredis", func(t *testing.T) {
		clock, _ := fake(t)
		m := miniredis.RunT(t)
		m.SetTime(clock.Now())
		m.ClockTTL(true) // keys expire on the fake clock too
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		testThreeReplicas(t, leaseEnv{st: redisstore.New(rdb, redisstore.Config{}), now: clock.Now,
			advance: func(d time.Duration) { m.SetTime(clock.Advance(d)) }})
	})
	t.Run("redis", func(t *testing.T) {
		testThreeReplicas(t, leaseEnv{st: redisstore.New(testredis.Standalone(t), redisstore.Config{}),
			now: time.Now, advance: time.Sleep, real: true})
	})
	t.Run("cluster", func(t *testing.T) {
		testThreeReplicas(t, leaseEnv{st: redisstore.New(testredis.Cluster(t), redisstore.Config{}),
			now: time.Now, advance: time.Sleep, real: true})
	})
	t.Run("redis restarted", func(t *testing.T) {
		srv := testredis.StartServer(t)
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond, DialerRetries: 1})
		t.Cleanup(func() { _ = rdb.Close() })
		testThreeReplicas(t, leaseEnv{st: redisstore.New(rdb, redisstore.Config{}),
			now: time.Now, advance: time.Sleep, real: true, stop: srv.Stop, start: srv.Start})
	})
}

// replicaCount is what one replica answered.
type replicaCount struct {
	admitted, refused, passed atomic.Int64
}

// testThreeReplicas runs three replicas (three RateLimit middlewares) on
// one store and checks, phase after phase, that the tenant never gets more
// than its limit allows plus the leases outstanding, that each replica
// admits only what it was granted, and that a lapsed lease goes back.
func testThreeReplicas(t *testing.T, env leaseEnv) {
	const limit = 600 // one request every 100 ms, a burst of 600
	const interval = time.Minute / limit
	// With a real clock, short leases and small ones, so that the test
	// waits less for leases to lapse and for a refused replica to ask
	// again (after half a lease's worth of refill).
	ttl, maxLease := 2*time.Second, 3*time.Second
	if env.real {
		ttl, maxLease = 300*time.Millisecond, time.Second
	}
	maxSize := maxLeaseFor(limit, maxLease)
	// pause is longer than a lease lives, and than a refused replica waits.
	pause := max(ttl, interval*time.Duration(maxSize/2+1)) + 100*time.Millisecond
	tn := limitedTenant("acme", limit)
	var leasers [3]*countingLeaser
	var handlers [3]http.Handler
	var counts [3]replicaCount
	for i := range 3 {
		leasers[i] = &countingLeaser{Leaser: env.st}
		handlers[i] = newLimited(t, leasers[i], RateLimitConfig{Now: env.now, LeaseTTL: ttl, MaxLease: maxLease, Cooldown: 50 * time.Millisecond})
	}
	// run sends n requests to each replica at once and returns how many
	// were admitted by the limit.
	run := func(n int) int64 {
		var before int64
		for i := range 3 {
			before += counts[i].admitted.Load()
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				for range n {
					rec := serveAs(context.Background(), handlers[i], tn)
					switch {
					case rec.Code == http.StatusTooManyRequests:
						counts[i].refused.Add(1)
					case rec.Header().Get("RateLimit-Limit") == "":
						counts[i].passed.Add(1)
					default:
						counts[i].admitted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		var after int64
		for i := range 3 {
			after += counts[i].admitted.Load()
		}
		return after - before
	}
	// held checks each replica's books and returns what each still holds:
	// granted, less given back, less admitted.
	held := func(what string) [3]int {
		var h [3]int
		for i := range 3 {
			_, granted, returned := leasers[i].books()
			h[i] = granted - returned - int(counts[i].admitted.Load())
			assert.GreaterOrEqual(t, h[i], 0, "%s: replica %d admitted more than it was granted", what, i)
			assert.LessOrEqual(t, h[i], maxSize, "%s: replica %d holds more than one lease", what, i)
		}
		return h
	}
	// refill is the most the budget gives back in d (and one more for the
	// request that may fall due at the edge).
	refill := func(d time.Duration) int64 { return int64(d/interval) + 1 }
	bound := func(d time.Duration, outstanding [3]int) int64 {
		return limit + refill(d) + int64(outstanding[0]+outstanding[1]+outstanding[2])
	}

	start := env.now()
	// A burst of twice the budget: the replicas' leases grow from one
	// request to the largest, and the budget runs out.
	admitted := run(limit * 2 / 3)
	elapsed := env.now().Sub(start)
	t.Logf("burst: %d admitted in %v", admitted, elapsed)
	assert.LessOrEqual(t, admitted, limit+refill(elapsed), "the whole budget and its refill, no more")
	assert.GreaterOrEqual(t, admitted, int64(limit-3*maxSize), "the leases waste no more than they hold")
	outstanding := held("after the burst")

	// The leases lapse; each replica's next lease gives its rest back.
	env.advance(pause)
	calls := [3]int{}
	for i := range 3 {
		c, _, _ := leasers[i].books()
		calls[i] = len(c)
	}
	phase := env.now()
	admitted = run(100)
	assert.LessOrEqual(t, admitted, bound(env.now().Sub(phase)+pause, outstanding), "after the leases lapsed")
	for i := range 3 {
		c, _, _ := leasers[i].books()
		require.Greater(t, len(c), calls[i], "replica %d asked the store again", i)
		assert.Equal(t, outstanding[i], c[calls[i]].unused, "replica %d gave back what its lapsed lease held", i)
	}
	outstanding = held("after the lapse")

	if env.stop != nil {
		// Redis stops: leases are spent, then requests go through; it
		// comes back with its data and the limit holds again.
		env.stop()
		env.advance(pause) // past the refusals the replicas remember
		run(50)
		var passed int64
		for i := range 3 {
			passed += counts[i].passed.Load()
		}
		assert.Positive(t, passed, "requests go through while Redis is down")
		env.start()
		env.advance(100 * time.Millisecond) // past the cooldown
		outstanding = held("after the outage")
		var refused int64
		for i := range 3 {
			refused -= counts[i].refused.Load()
		}
		phase = env.now()
		admitted = run(limit)
		assert.LessOrEqual(t, admitted, bound(env.now().Sub(phase)+time.Second, outstanding), "after the restart")
		for i := range 3 {
			refused += counts[i].refused.Load()
		}
		assert.Positive(t, refused, "the limit holds again after the restart")
	}
	held("at the end")

	var total int64
	for i := range 3 {
		total += counts[i].admitted.Load()
	}
	elapsed = env.now().Sub(start)
	t.Logf("in all: %d admitted in %v, bound %d", total, elapsed, limit+refill(elapsed))
	assert.LessOrEqual(t, total, limit+refill(elapsed), "from a fresh start no lease was outstanding: the limit alone")
}

// commandCounter is a go-redis hook that counts the commands sent.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !connSetup(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if !connSetup(cmd) {
				c.n.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

// connSetup reports whether cmd is one go-redis sends on a new connection,
// paid once per pooled connection rather than per request.
func connSetup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

// TestLeaseRoundTrips counts the Redis commands of 10,000 requests of a
// tenant whose limit is far above the load, through one replica and
// through three at once: fewer than 500, one per twenty requests.
func TestLeaseRoundTrips(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		testLeaseRoundTrips(t, rdb, nil)
	})
	t.Run("redis", func(t *testing.T) {
		rdb := testredis.Standalone(t)
		testLeaseRoundTrips(t, rdb, rdb)
	})
}

// testLeaseRoundTrips counts with a hook and, when server is set, checks
// the count against the server's own (INFO commandstats).
func testLeaseRoundTrips(t *testing.T, rdb *redis.Client, server *redis.Client) {
	const requests = 10_000
	ctx := t.Context()
	c := &commandCounter{}
	rdb.AddHook(c)
	st := redisstore.New(rdb, redisstore.Config{})
	require.NoError(t, st.LoadScripts(ctx))
	tn := limitedTenant("acme", 1_000_000)
	for _, replicas := range []int{1, 3} {
		var handlers []http.Handler
		for range replicas {
			handlers = append(handlers, newLimited(t, st, RateLimitConfig{}))
		}
		if server != nil {
			require.NoError(t, server.ConfigResetStat(ctx).Err())
		}
		before := c.n.Load()
		var wg sync.WaitGroup
		for _, h := range handlers {
			wg.Go(func() {
				for range requests / replicas {
					if rec := serveAs(context.Background(), h, tn); rec.Code != http.StatusOK || rec.Header().Get("RateLimit-Limit") == "" {
						t.Errorf("status %d, limit %q", rec.Code, rec.Header().Get("RateLimit-Limit"))
						return
					}
				}
			})
		}
		wg.Wait()
		n := c.n.Load() - before
		t.Logf("%d requests through %d replica(s): %d Redis commands, %.4f per request", requests, replicas, n, float64(n)/requests)
		assert.Less(t, n, int64(requests/20), "%d replica(s)", replicas)
		if server != nil {
			stats, err := server.Info(ctx, "commandstats").Result()
			require.NoError(t, err)
			evals := commandCalls(stats, "evalsha") + commandCalls(stats, "eval")
			t.Logf("INFO commandstats: %d script calls", evals)
			assert.Equal(t, n, evals, "the server counts what the hook counts")
		}
	}
}

// commandCalls returns the calls of cmd in an INFO commandstats answer.
func commandCalls(info, cmd string) int64 {
	const calls = "calls="
	prefix := "cmdstat_" + cmd + ":"
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			rest, _, _ = strings.Cut(strings.TrimPrefix(rest, calls), ",")
			n, _ := strconv.ParseInt(rest, 10, 64)
			return n
		}
	}
	return 0
}

func TestMaxLeaseFor(t *testing.T) {
	for _, tt := range []struct{ limit, want int }{
		{1, 1}, {10, 1}, {19, 1}, {20, 1}, {40, 2}, {60, 3}, {600, 30}, {1_000_000, 50_000},
	} {
		assert.Equal(t, tt.want, maxLeaseFor(tt.limit, 3*time.Second), "limit %d", tt.limit)
	}
	assert.Equal(t, 1, maxLeaseFor(1000, time.Millisecond), "at least one request")
}

// TestLeaseSmallLimitIsExact checks that a tenant whose limit makes a
// lease one request gets exactly its limit across three replicas, each
// request asking the store, and that refusals it remembers cost nothing.
func TestLeaseSmallLimitIsExact(t *testing.T) {
	clock := newFakeClock()
	st := memstore.New(memstore.Config{Clock: clock.Now})
	var leasers [3]*countingLeaser
	var handlers [3]http.Handler
	for i := range 3 {
		leasers[i] = &countingLeaser{Leaser: st}
		handlers[i] = newLimited(t, leasers[i], RateLimitConfig{Now: clock.Now})
	}
	tn := limitedTenant("acme", 10)
	round := func(n int) (admitted int) {
		for i := range n {
			if serveAs(context.Background(), handlers[i%3], tn).Code == http.StatusOK {
				admitted++
			}
		}
		return admitted
	}
	assert.Equal(t, 10, round(90), "the burst, exactly")
	clock.Advance(6 * time.Second) // one more request
	assert.Equal(t, 1, round(30), "the refill, exactly")
	calls := 0
	for i := range 3 {
		c, _, returned := leasers[i].books()
		calls += len(c)
		assert.Zero(t, returned, "a lease of one is spent at once")
		for _, call := range c {
			assert.Equal(t, 1, call.want, "replica %d asked for more than one request", i)
		}
	}
	assert.LessOrEqual(t, calls, 11+6, "one call per admitted request and one per refusal learnt")
}

// TestLeaseSizeFollowsRate checks that a busy tenant's leases grow until
// well under one request in twenty asks the store, and that once its
// traffic slows down, its leases shrink back to one request and the
// unspent part of each goes back.
func TestLeaseSizeFollowsRate(t *testing.T) {
	clock := newFakeClock()
	lc := &countingLeaser{Leaser: memstore.New(memstore.Config{Clock: clock.Now})}
	h := newLimited(t, lc, RateLimitConfig{Now: clock.Now})
	tn := limitedTenant("acme", 1_000_000)
	serve := func(n int, step time.Duration) int {
		before, _, _ := lc.books()
		for range n {
			require.Equal(t, http.StatusOK, serveAs(context.Background(), h, tn).Code)
			clock.Advance(step)
		}
		after, _, _ := lc.books()
		return len(after) - len(before)
	}
	serve(1000, 10*time.Millisecond) // 100 a second: the leases grow
	calls := serve(2000, 10*time.Millisecond)
	t.Logf("at 100 requests a second: %d store calls for 2000 requests", calls)
	assert.Less(t, calls, 2000/20, "at steady state")

	serve(10, 3*time.Second) // slower than a lease lives
	c, _, returned := lc.books()
	assert.Equal(t, 1, c[len(c)-1].want, "an idle tenant's lease shrinks to one request")
	assert.Positive(t, returned, "what lapsed went back")
}

// TestLeaseFloodPastTheLimit checks that a tenant sending far more than its
// limit costs the store one call per half lease, not one per request
// refused or admitted, and still gets no more than its budget.
func TestLeaseFloodPastTheLimit(t *testing.T) {
	const limit, requests = 600, 20_000
	clock := newFakeClock()
	lc := &countingLeaser{Leaser: memstore.New(memstore.Config{Clock: clock.Now})}
	h := newLimited(t, lc, RateLimitConfig{Now: clock.Now})
	tn := limitedTenant("acme", limit)
	admitted := 0
	for range requests { // 1000 a second for 20 seconds
		if serveAs(context.Background(), h, tn).Code == http.StatusOK {
			admitted++
		}
		clock.Advance(time.Millisecond)
	}
	calls, _, _ := lc.books()
	t.Logf("%d requests: %d admitted, %d store calls", requests, admitted, len(calls))
	assert.LessOrEqual(t, admitted, limit+requests/100+1, "the burst and 20 seconds of refill")
	assert.Greater(t, admitted, limit+requests/100-maxLeaseFor(limit, 3*time.Second))
	assert.Less(t, len(calls), 100)
}

// TestLeaseAllocations counts the allocations of a request admitted from a
// lease: none while the headers' numbers are under 1000, and two (the
// RateLimit-Remaining value) above.
func TestLeaseAllocations(t *testing.T) {
	for _, tt := range []struct {
		limit, allocs int
	}{{500, 0}, {1_000_000, 2}} {
		clock := newFakeClock()
		st := memstore.New(memstore.Config{Clock: clock.Now})
		mw, err := RateLimit(RateLimitConfig{Leaser: st, Now: clock.Now, MaxLease: time.Minute})
		require.NoError(t, err)
		h := mw(noop)
		req := limitedRequest(limitedTenant("acme", tt.limit))
		w := httptest.NewRecorder()
		// Leases of 1, 2, ... 64 requests: the next holds 128, more than
		// the runs below need, so none of them asks the store.
		for range 127 {
			h.ServeHTTP(w, req)
		}
		allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) })
		assert.Equal(t, float64(tt.allocs), allocs, "limit %d", tt.limit)
		assert.Equal(t, http.StatusOK, w.Code)
		assert.NotEmpty(t, w.Header().Get("RateLimit-Remaining"))
	}
}

// TestLeaseIdleTenantsAreDropped checks that a replica forgets the tenants
// that sent nothing for a minute, and serves them again afterwards.
func TestLeaseIdleTenantsAreDropped(t *testing.T) {
	clock := newFakeClock()
	cfg := RateLimitConfig{Leaser: memstore.New(memstore.Config{Clock: clock.Now}), Now: clock.Now}
	require.NoError(t, cfg.setDefaults())
	l := newLeases(cfg)
	var a answer
	for i := range 5 {
		l.take(context.Background(), "t"+strconv.Itoa(i), 100, &a)
		require.Equal(t, verdictAdmit, a.verdict)
	}
	count := func() int {
		l.mu.RLock()
		defer l.mu.RUnlock()
		return len(l.budgets)
	}
	require.Equal(t, 5, count())
	// The first lease of all started a sweep, which found nothing idle;
	// a sweep asked for while one runs is left to a later store call.
	require.Eventually(t, func() bool { return !l.sweeping.Load() }, 10*time.Second, time.Millisecond)
	clock.Advance(idleAfter + time.Second)
	l.take(context.Background(), "fresh", 100, &a) // a store call, which sweeps
	require.Eventually(t, func() bool { return count() == 1 }, 10*time.Second, time.Millisecond)
	l.take(context.Background(), "t0", 100, &a)
	assert.Equal(t, verdictAdmit, a.verdict)
	assert.Equal(t, 2, count())
}

// TestLeaseLimitChange checks that a new limit of a tenant applies to its
// next request.
func TestLeaseLimitChange(t *testing.T) {
	clock := newFakeClock()
	h := newLimited(t, memstore.New(memstore.Config{Clock: clock.Now}), RateLimitConfig{Now: clock.Now})
	for range 20 {
		rec := serveAs(context.Background(), h, limitedTenant("acme", 1000))
		require.Equal(t, "1000", rec.Header().Get("RateLimit-Limit"))
	}
	admitted := 0
	for range 10 {
		rec := serveAs(context.Background(), h, limitedTenant("acme", 5))
		assert.Equal(t, "5", rec.Header().Get("RateLimit-Limit"))
		if rec.Code == http.StatusOK {
			admitted++
		}
	}
	assert.Positive(t, admitted)
	assert.LessOrEqual(t, admitted, 5)
}

// TestLeaseFailuresLogOncePerCooldown checks that an outage seen by many
// tenants logs one line a cooldown, with the number of failures.
func TestLeaseFailuresLogOncePerCooldown(t *testing.T) {
	var buf bytes.Buffer
	clock := newFakeClock()
	lim := &fakeLeaser{err: errors.New("dial tcp: connection refused")}
	h := newLimited(t, lim, RateLimitConfig{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for range 2 {
		for i := range 50 {
			rec := serveAs(context.Background(), h, limitedTenant("t"+strconv.Itoa(i), 100))
			require.Equal(t, http.StatusOK, rec.Code)
		}
		clock.Advance(1100 * time.Millisecond)
	}
	assert.Equal(t, 100, lim.calledTimes(), "each tenant probes once a cooldown")
	assert.Equal(t, 2, strings.Count(buf.String(), "rate limiter unavailable"), buf.String())
	assert.Contains(t, buf.String(), "failures=50")
}

// slowLeaser delays every lease, so that requests meet while one is on
// its way.
type slowLeaser struct {
	store.Leaser
	delay time.Duration
	calls atomic.Int64
}

func (s *slowLeaser) Lease(ctx context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	s.calls.Add(1)
	time.Sleep(s.delay)
	return s.Leaser.Lease(ctx, tenantID, key, limit, want, unused)
}

// TestLeaseConcurrentRequestsShareACall checks that a tenant's requests
// that need the store at the same time wait for one call instead of each
// making its own: one tenant's burst never holds more than one of the
// store's connections.
//
// It runs in a synctest bubble, where the store's delay ends only once all
// 15 requests wait, so that they provably meet while the first call is on
// its way, however loaded the machine.
func TestLeaseConcurrentRequestsShareACall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sl := &slowLeaser{Leaser: memstore.New(memstore.Config{}), delay: 20 * time.Millisecond}
		h := newLimited(t, sl, RateLimitConfig{})
		tn := limitedTenant("acme", 1_000_000)
		var wg sync.WaitGroup
		for range 15 {
			wg.Go(func() {
				rec := serveAs(context.Background(), h, tn)
				assert.Equal(t, http.StatusOK, rec.Code)
				assert.NotEmpty(t, rec.Header().Get("RateLimit-Limit"))
			})
		}
		wg.Wait()
		// Leases of 1, 2, 4 and 8 requests cover 15.
		assert.LessOrEqual(t, sl.calls.Load(), int64(4))
	})
}

// blockingLeaser fails until told otherwise, then blocks each call until
// released.
type blockingLeaser struct {
	calls   atomic.Int64
	release chan struct{}
	up      atomic.Bool
}

func (b *blockingLeaser) Lease(_ context.Context, _, _ string, limit, want, _ int) (store.Lease, error) {
	b.calls.Add(1)
	if !b.up.Load() {
		return store.Lease{}, errors.New("dial tcp: connection refused")
	}
	<-b.release
	return store.Lease{Granted: want, Decision: store.Decision{Allowed: true, Limit: limit, Remaining: limit - want}}, nil
}

// TestLeaseProbeDoesNotHoldRequests checks that while one request probes
// a store that failed, the tenant's other requests go through instead of
// waiting for it.
func TestLeaseProbeDoesNotHoldRequests(t *testing.T) {
	clock := newFakeClock()
	bl := &blockingLeaser{release: make(chan struct{})}
	h := newLimited(t, bl, RateLimitConfig{Now: clock.Now})
	tn := limitedTenant("acme", 100)
	require.Equal(t, http.StatusOK, serveAs(context.Background(), h, tn).Code)
	clock.Advance(1100 * time.Millisecond)
	bl.up.Store(true)
	probed := make(chan *httptest.ResponseRecorder)
	go func() { probed <- serveAs(context.Background(), h, tn) }()
	require.Eventually(t, func() bool { return bl.calls.Load() == 2 }, 10*time.Second, time.Millisecond)

	other := make(chan *httptest.ResponseRecorder)
	go func() { other <- serveAs(context.Background(), h, tn) }()
	select {
	case rec := <-other:
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, rec.Header().Get("RateLimit-Limit"), "let through while the probe is on its way")
	case <-time.After(10 * time.Second):
		t.Fatal("a request waited for the probe")
	}
	close(bl.release)
	rec := <-probed
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "100", rec.Header().Get("RateLimit-Limit"), "the probe's own request is decided")
	assert.Equal(t, int64(2), bl.calls.Load())
}
