package middleware

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

func TestCachePositiveAndNegativeTTL(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"))
	clk := newFakeClock()
	c := NewCache(src, CacheConfig{TTL: 30 * time.Second, NegativeTTL: 5 * time.Second, Now: clk.Now})
	ctx := context.Background()

	got, err := c.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "acme", got.ID)
	_, err = c.Get(ctx, "nope")
	require.ErrorIs(t, err, tenant.ErrNotFound)
	assert.EqualValues(t, 2, src.reads.Load())

	// Within their TTLs both answers come from the cache.
	clk.Advance(4 * time.Second)
	_, _ = c.Get(ctx, "acme")
	_, _ = c.Get(ctx, "nope")
	assert.EqualValues(t, 2, src.reads.Load())

	// The negative entry expires first.
	clk.Advance(2 * time.Second)
	_, _ = c.Get(ctx, "acme")
	_, _ = c.Get(ctx, "nope")
	assert.EqualValues(t, 3, src.reads.Load())

	clk.Advance(25 * time.Second)
	_, _ = c.Get(ctx, "acme")
	assert.EqualValues(t, 4, src.reads.Load())
}

// The tests of reads in flight run in a synctest bubble, where time moves
// only once every goroutine of the test waits: the store's delay ends only
// after every caller has asked, however loaded the machine, so each test
// checks the moment it is about rather than one a sleep hopes for. Their
// caches get the bubble's clock (Now), not the coarse clock every real
// cache shares.

func TestCacheCoalescesConcurrentMisses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeTenants(activeTenant("acme"))
		src.delay = 50 * time.Millisecond
		c := NewCache(src, CacheConfig{Now: time.Now})

		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for range 100 {
			wg.Go(func() {
				got, err := c.Get(context.Background(), "acme")
				if err == nil && got.ID != "acme" {
					err = fmt.Errorf("got tenant %q", got.ID)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		assert.EqualValues(t, 1, src.reads.Load(), "100 concurrent first requests must cause one store read")
	})
}

func TestCacheDetachedLookupSurvivesCallerHangingUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeTenants(activeTenant("acme"))
		src.delay = 100 * time.Millisecond
		c := NewCache(src, CacheConfig{Now: time.Now})

		first, cancel := context.WithCancel(context.Background())
		firstErr := make(chan error, 1)
		go func() {
			_, err := c.Get(first, "acme")
			firstErr <- err
		}()
		synctest.Wait()
		require.EqualValues(t, 1, src.reads.Load(), "the first caller's read is in flight")
		cancel()
		require.ErrorIs(t, <-firstErr, ErrUnavailable)

		// A second caller joins the read the first one started, which no
		// time has ended yet; it completes although the first caller is
		// gone.
		got, err := c.Get(context.Background(), "acme")
		require.NoError(t, err)
		assert.Equal(t, "acme", got.ID)
		assert.EqualValues(t, 1, src.reads.Load())
	})
}

func TestCacheFloodOfUnknownIDsIsBounded(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"))
	clk := newFakeClock()
	c := NewCache(src, CacheConfig{MaxEntries: 100, MaxNegative: 500, MissesPerSecond: 200, Now: clk.Now})
	ctx := context.Background()
	_, err := c.Get(ctx, "acme")
	require.NoError(t, err)

	busy := 0
	for i := range 10000 {
		if i%100 == 0 {
			clk.Advance(100 * time.Millisecond) // 10,000 requests over 10 s
		}
		_, err := c.Get(ctx, fmt.Sprintf("random-%d", i))
		if err != nil && !errors.Is(err, tenant.ErrNotFound) {
			require.ErrorIs(t, err, ErrBusy)
			busy++
		}
	}
	st := c.Stats()
	// 200 tokens at the start plus 200 a second for 10 s, plus acme's read.
	assert.LessOrEqual(t, st.StoreReads, int64(1+200+200*10))
	assert.Greater(t, busy, 0)
	assert.LessOrEqual(t, st.NegativeEntries, 500)
	assert.Equal(t, 1, st.Entries, "unknown IDs never push a real tenant out")

	got, err := c.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "acme", got.ID)
}

func TestCacheBoundsPositiveEntries(t *testing.T) {
	src := newFakeTenants()
	for i := range 50 {
		src.set(activeTenant(fmt.Sprintf("t%d", i)))
	}
	c := NewCache(src, CacheConfig{MaxEntries: 10})
	for i := range 50 {
		_, err := c.Get(context.Background(), fmt.Sprintf("t%d", i))
		require.NoError(t, err)
	}
	assert.Equal(t, 10, c.Stats().Entries)
}

func TestCacheServesStaleWhileStoreFails(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"), suspendedTenant("gone"))
	clk := newFakeClock()
	c := NewCache(src, CacheConfig{TTL: 10 * time.Second, NegativeTTL: 10 * time.Second, StaleTTL: time.Minute, Now: clk.Now})
	ctx := context.Background()
	_, err := c.Get(ctx, "acme")
	require.NoError(t, err)
	_, err = c.Get(ctx, "unknown")
	require.ErrorIs(t, err, tenant.ErrNotFound)

	src.down.Store(true)
	clk.Advance(30 * time.Second) // past the TTL, within the stale window
	got, err := c.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "acme", got.ID)
	_, err = c.Get(ctx, "unknown")
	assert.ErrorIs(t, err, tenant.ErrNotFound, "a known absence is served stale too")
	_, err = c.Get(ctx, "gone")
	assert.ErrorIs(t, err, ErrUnavailable, "nothing cached: unavailable")

	clk.Advance(time.Minute) // past the stale window
	_, err = c.Get(ctx, "acme")
	assert.ErrorIs(t, err, ErrUnavailable)

	src.down.Store(false) // the store is back: service recovers by itself
	got, err = c.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "acme", got.ID)
}

func TestCacheHandleEvents(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"), activeTenant("beta"))
	c := NewCache(src, CacheConfig{})
	ctx := context.Background()
	for _, id := range []string{"acme", "beta", "new"} {
		_, _ = c.Get(ctx, id)
	}
	require.EqualValues(t, 3, src.reads.Load())

	src.set(suspendedTenant("acme"))
	src.set(activeTenant("new"))
	c.Handle(store.Event{Type: store.EventUpdated, TenantID: "acme"})
	c.Handle(store.Event{Type: store.EventCreated, TenantID: "new"})

	_, err := c.Get(ctx, "acme")
	require.ErrorIs(t, err, ErrInactive, "the suspension is seen at once")
	got, err := c.Get(ctx, "new")
	require.NoError(t, err)
	assert.Equal(t, "new", got.ID, "a negative entry is dropped by a create")
	_, _ = c.Get(ctx, "beta")
	assert.EqualValues(t, 5, src.reads.Load(), "beta was not touched")

	c.Handle(store.Event{Type: store.EventReset})
	_, _ = c.Get(ctx, "beta")
	assert.EqualValues(t, 6, src.reads.Load(), "a reset expires everything")
}

func TestCacheInvalidateDiscardsInFlightRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeTenants(activeTenant("acme"))
		src.delay = 50 * time.Millisecond
		c := NewCache(src, CacheConfig{Now: time.Now})
		done := make(chan struct{})
		go func() {
			got, err := c.Get(context.Background(), "acme")
			if assert.NoError(t, err) {
				assert.Equal(t, "acme", got.ID, "the read answers what the store said when it began")
			}
			close(done)
		}()
		// The read has taken the store's answer (acme, active) and the
		// store holds it: the suspension and its invalidation come in
		// while it is on its way back.
		synctest.Wait()
		require.EqualValues(t, 1, src.reads.Load(), "the read is in flight")
		src.set(suspendedTenant("acme"))
		c.Invalidate("acme")
		<-done
		_, err := c.Get(context.Background(), "acme")
		require.ErrorIs(t, err, ErrInactive, "a read that began before the invalidation is not cached")
		assert.EqualValues(t, 2, src.reads.Load())
	})
}

// TestCacheColdStartIsNotThrottled fills an empty cache in front of many
// real tenants: reads that find a tenant give their token back, so the
// bound on unknown IDs never turns a real tenant away.
func TestCacheColdStartIsNotThrottled(t *testing.T) {
	src := newFakeTenants()
	for i := range 1000 {
		src.set(activeTenant(fmt.Sprintf("t%d", i)))
	}
	c := NewCache(src, CacheConfig{MissesPerSecond: 5, Now: newFakeClock().Now})
	for i := range 1000 {
		_, err := c.Get(context.Background(), fmt.Sprintf("t%d", i))
		require.NoError(t, err)
	}
	// Unknown IDs still drain the budget: the sixth is refused.
	for i := range 5 {
		_, err := c.Get(context.Background(), fmt.Sprintf("unknown-%d", i))
		require.ErrorIs(t, err, tenant.ErrNotFound)
	}
	_, err := c.Get(context.Background(), "unknown-5")
	require.ErrorIs(t, err, ErrBusy)
	assert.EqualValues(t, 1005, src.reads.Load())
}

// TestCacheConcurrentMissesShareOneToken: 100 concurrent first requests of
// one tenant are one read and one token of the miss budget.
func TestCacheConcurrentMissesShareOneToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeTenants(activeTenant("acme"))
		src.delay = 30 * time.Millisecond
		c := NewCache(src, CacheConfig{MissesPerSecond: 1, Now: newFakeClock().Now})
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 100 {
			wg.Go(func() {
				if _, err := c.Get(context.Background(), "acme"); err != nil {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Zero(t, failed.Load())
		assert.EqualValues(t, 1, src.reads.Load())
	})
}

// perID wraps a Getter and counts the reads of each ID.
type perID struct {
	Getter
	mu    sync.Mutex
	reads map[string]int
}

func (p *perID) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	p.mu.Lock()
	p.reads[id]++
	p.mu.Unlock()
	return p.Getter.Get(ctx, id)
}

func (p *perID) count(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads[id]
}

// TestSuspendedRememberedLikeUnknown: a suspended tenant is remembered
// exactly as long as an unknown ID, so that a probe at any moment costs the
// two the same store reads (a suspended tenant cached longer answered a
// later probe faster).
func TestSuspendedRememberedLikeUnknown(t *testing.T) {
	src := &perID{Getter: newFakeTenants(suspendedTenant("frozen")), reads: map[string]int{}}
	clk := newFakeClock()
	c := NewCache(src, CacheConfig{TTL: 30 * time.Second, NegativeTTL: 5 * time.Second, Now: clk.Now})
	ctx := context.Background()
	for i, step := range []time.Duration{0, time.Second, 5 * time.Second, 6 * time.Second, 25 * time.Second, 40 * time.Second} {
		clk.Advance(step)
		_, errUnknown := c.Get(ctx, "nobody")
		_, errSuspended := c.Get(ctx, "frozen")
		require.ErrorIs(t, errUnknown, tenant.ErrNotFound)
		require.ErrorIs(t, errSuspended, ErrInactive)
		require.Equal(t, src.count("nobody"), src.count("frozen"), "probe %d: store reads of an unknown and a suspended ID", i)
	}
	assert.Equal(t, 5, src.count("frozen"), "read again once its NegativeTTL is past, like the unknown ID")
	st := c.Stats()
	assert.Equal(t, 0, st.Entries, "a suspended tenant is not kept among the served ones")
	assert.Equal(t, 2, st.NegativeEntries)
}

// vouchFor is a Known that vouches for the IDs it holds and is unsure of
// every other.
type vouchFor map[string]bool

func (v vouchFor) Presence(id string) Presence {
	if v[id] {
		return Exists
	}
	return MayExist
}

// TestCacheVouchedReadIgnoresSpentBudget: once the reads of IDs the Known
// is unsure of (names a filter wrongly holds, say) have spent the miss
// budget, a tenant the Known vouches for is still read and served, not
// refused with ErrBusy: its read is not charged to the budget.
func TestCacheVouchedReadIgnoresSpentBudget(t *testing.T) {
	src := newFakeTenants(activeTenant("acme"))
	c := NewCache(src, CacheConfig{MissesPerSecond: 2, Known: vouchFor{"acme": true}, Now: newFakeClock().Now})
	ctx := context.Background()
	for i := range 2 {
		_, err := c.Get(ctx, fmt.Sprintf("made-up-%d", i))
		require.ErrorIs(t, err, tenant.ErrNotFound)
	}
	_, err := c.Get(ctx, "made-up-2")
	require.ErrorIs(t, err, ErrBusy, "the budget is spent")
	got, err := c.Get(ctx, "acme")
	require.NoError(t, err, "vouched for: read whatever the budget")
	assert.Equal(t, "acme", got.ID)
	assert.EqualValues(t, 3, src.reads.Load())
}

// TestCacheBusySaysItOnce: the error of a read refused for the miss budget
// is ErrBusy as it is, for the refusal's log line, not wrapped in
// ErrUnavailable a second time.
func TestCacheBusySaysItOnce(t *testing.T) {
	c := NewCache(newFakeTenants(), CacheConfig{MissesPerSecond: 1, Now: newFakeClock().Now})
	_, err := c.Get(context.Background(), "made-up-0")
	require.ErrorIs(t, err, tenant.ErrNotFound)
	_, err = c.Get(context.Background(), "made-up-1")
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, ErrBusy.Error(), err.Error())
}
