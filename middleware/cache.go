package middleware

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Getter reads one tenant by ID. [store.Tenants] satisfies it.
type Getter interface {
	Get(ctx context.Context, id string) (*tenant.Tenant, error)
}

// Errors of [Cache.Get].
var (
	// ErrInactive means the tenant exists but is not active (suspended).
	// It wraps [tenant.ErrNotFound], so that a caller that only asks
	// whether a tenant may be served treats it like an unknown one; the
	// cache remembers it exactly like one.
	ErrInactive = fmt.Errorf("middleware: tenant inactive: %w", tenant.ErrNotFound)
	// ErrUnavailable means the tenant store could not answer and nothing
	// usable was cached. The middleware answers 503.
	ErrUnavailable = errors.New("middleware: tenant store unavailable")
	// ErrBusy means the bound on store reads for never-seen IDs was
	// reached; it wraps ErrUnavailable.
	ErrBusy = fmt.Errorf("%w: too many lookups of uncached tenants", ErrUnavailable)
)

// CacheConfig configures a [Cache]. The zero value is ready to use.
type CacheConfig struct {
	// TTL is how long a tenant read from the store is served without
	// asking again. Events from other replicas usually drop it sooner.
	// default: 30 seconds
	TTL time.Duration
	// NegativeTTL is how long "no such tenant" is remembered, and as long
	// "this tenant is inactive": a suspended tenant is remembered exactly
	// like an unknown ID, so that the time of an answer does not tell
	// them apart.
	// default: 5 seconds
	NegativeTTL time.Duration
	// StaleTTL is how long past its TTL an entry is still served while the
	// store is failing, so that an outage of the store does not take the
	// known tenants down.
	// default: 5 minutes
	StaleTTL time.Duration
	// MaxEntries bounds the tenants held; MaxNegative bounds the unknown
	// IDs remembered. The two are separate so that a flood of random
	// unknown IDs never pushes a real tenant out.
	// default: 10000 each
	MaxEntries  int
	MaxNegative int
	// MissesPerSecond bounds the store reads, for IDs the cache holds
	// nothing about, that find no tenant (with a burst of the same size).
	// Each such read takes a token before it starts and gives it back when
	// it finds a tenant, so a cold cache in front of many real tenants
	// fills at the store's pace, while a flood of random IDs costs the
	// store a bounded number of reads: past the bound, requests for
	// uncached IDs get ErrBusy (503) until tokens come back. Concurrent
	// requests for one ID share one read and one token. Negative means no
	// bound. With a loaded Known, the bound only applies to what it is
	// unsure of (see Known).
	// default: 200
	MissesPerSecond int
	// Known, when set, is asked before the store is read for an ID the
	// cache holds nothing fresh about: an ID it rules out ([Absent],
	// [Inactive]) is answered at once, without a store read and without
	// spending the miss budget; an ID it vouches for ([Exists]) is read
	// without spending the budget, so that a flood of made-up IDs never
	// keeps a real tenant from being read and served. A [Directory] is
	// the Known of a cache of tenants: the cache then passes it the
	// events of Handle, and reads each tenant named by a created or
	// updated event at once, so that the directory learns its status and
	// domain without a request waiting for it. It must not be used with a
	// Getter that answers for tenants the store does not hold
	// ([WithFallback]).
	// default: nil (every uncached ID is read, within the miss budget)
	Known Known
	// LookupTimeout bounds one store read. The read runs on a context
	// detached from the request, so that a client hanging up does not fail
	// the other requests waiting for the same tenant.
	// default: 2 seconds
	LookupTimeout time.Duration
	// RetryInterval is how long a stale entry is served, without asking the
	// store, after a read of it failed. After the first failure, later
	// retries run in the background, so that while the store is down no
	// request of a known tenant waits for it.
	// default: 1 second
	RetryInterval time.Duration
	// Now is the clock.
	// default: the system's monotonic clock (what time.Now reads, without
	// its wall-clock part); a cached tenant may then be served up to about
	// a millisecond past its TTL, since a cache hit reads a clock that a
	// timer moves every millisecond rather than the system clock itself.
	Now func() time.Time
}

func (c *CacheConfig) setDefaults() {
	conf.Default(&c.TTL, 30*time.Second)
	conf.Default(&c.NegativeTTL, 5*time.Second)
	conf.Default(&c.StaleTTL, 5*time.Minute)
	conf.Default(&c.LookupTimeout, 2*time.Second)
	conf.Default(&c.RetryInterval, time.Second)
	conf.Default(&c.MaxEntries, 10000)
	conf.Default(&c.MaxNegative, 10000)
	c.MissesPerSecond = cmp.Or(c.MissesPerSecond, 200)
	// A nil Now stays nil: the cache then reads the monotonic clock, and
	// on a hit the coarse clock, both cheaper than time.Now.
}

// Cache is an in-process cache of tenants in front of a [Getter]: positive
// entries (active tenants) and negative ones (unknown and inactive
// tenants, remembered alike) with their own TTLs and bounds, concurrent
// misses for one ID coalesced into one store read, and the last known
// answer served for [CacheConfig.StaleTTL] while the store fails.
// [Cache.Handle] takes the store's events, so a change made on another
// replica is seen at once. With a [Directory] as [CacheConfig.Known], an ID
// that does not exist is answered without a store read.
//
// A Cache is safe for concurrent use.
type Cache struct {
	src   Getter
	cfg   CacheConfig
	group singleflight.Group
	// learner is cfg.Known when it follows events and learns from reads.
	learner learner

	mu  sync.RWMutex
	pos map[string]entry
	neg map[string]entry
	// gen counts invalidations; a read that started before one does not
	// store its (possibly outdated) answer.
	gen uint64

	missMu     sync.Mutex
	missTokens float64
	missLast   int64

	reads, ruledOut atomic.Int64
}

// entry is one cached answer: an active tenant (in pos), an inactive one
// or nil for "no such tenant" (in neg). Times are Unix nanoseconds.
// failing is set when the last read of the entry failed.
type entry struct {
	t       *tenant.Tenant
	expires int64
	stale   int64
	failing bool
}

// NewCache returns a cache in front of src.
func NewCache(src Getter, cfg CacheConfig) *Cache {
	cfg.setDefaults()
	l, _ := cfg.Known.(learner)
	c := &Cache{
		src:     src,
		cfg:     cfg,
		learner: l,
		pos:     make(map[string]entry),
		neg:     make(map[string]entry),
	}
	c.missTokens, c.missLast = float64(cfg.MissesPerSecond), c.now()
	return c
}

// now reads the cache's clock, in nanoseconds: the monotonic clock unless
// the configuration has a clock of its own.
func (c *Cache) now() int64 {
	if c.cfg.Now != nil {
		return c.cfg.Now().UnixNano()
	}
	return monotime()
}

// recent is now for the hit path: the coarse clock, behind by about a
// millisecond, unless the configuration has a clock of its own.
func (c *Cache) recent() int64 {
	if c.cfg.Now != nil {
		return c.cfg.Now().UnixNano()
	}
	return coarse.Now()
}

// errNotFound is returned for cached negative answers without allocating.
var errNotFound = fmt.Errorf("%w (cached)", tenant.ErrNotFound)

// Get returns the active tenant with the given ID. It returns [ErrInactive]
// for a tenant that is not active, an error wrapping [tenant.ErrNotFound]
// for an unknown one, and one wrapping [ErrUnavailable] when the store
// fails and nothing usable is cached. id must already be valid.
//
// An active tenant cached and fresh costs one map lookup under a read
// lock and an atomic load (the coarse clock), no clock read. Anything else
// takes the same path whatever the answer: a clock read, the Known (if
// any), then the entries of unknown and inactive tenants, so that an
// unknown and a suspended tenant cost the same lookups.
func (c *Cache) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	c.mu.RLock()
	e, ok := c.pos[id]
	c.mu.RUnlock()
	if ok && c.recent() < e.expires {
		return e.t, nil
	}
	return c.miss(ctx, id, c.now(), e, ok)
}

// miss answers an ID without a fresh active entry: old is its expired
// active entry, if hadOld.
func (c *Cache) miss(ctx context.Context, id string, now int64, old entry, hadOld bool) (*tenant.Tenant, error) {
	p := MayExist
	if c.cfg.Known != nil {
		p = c.cfg.Known.Presence(id)
	}
	switch p {
	case Absent:
		c.ruledOut.Add(1)
		return nil, errNotFound
	case Inactive:
		c.ruledOut.Add(1)
		return nil, ErrInactive
	}
	c.mu.RLock()
	ne, nok := c.neg[id]
	c.mu.RUnlock()
	e, ok := old, hadOld
	if !ok {
		e, ok = ne, nok
	}
	if ok && now < e.expires {
		return e.answer()
	}
	if ok && e.failing && now < e.stale {
		// The store failed recently: answer from the stale entry at once
		// and let one background read find out whether it is back.
		c.group.DoChan(id, c.read(ctx, id, false))
		return e.answer()
	}
	// A read for an ID the cache knows nothing about is charged to the
	// miss budget, unless the Known vouches for it; a refresh of a known
	// entry is not.
	return c.fetch(ctx, id, e, ok, !ok && p != Exists)
}

// answer returns the cached tenant or the cached refusal.
func (e entry) answer() (*tenant.Tenant, error) {
	switch {
	case e.t == nil:
		return nil, errNotFound
	case !e.t.Active():
		return nil, ErrInactive
	}
	return e.t, nil
}

// fetch reads id from the store, coalescing concurrent reads, and falls
// back to the stale entry old when the store fails.
func (c *Cache) fetch(ctx context.Context, id string, old entry, hadOld, charged bool) (*tenant.Tenant, error) {
	ch := c.group.DoChan(id, c.read(ctx, id, charged))
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	switch {
	case res.Err == nil:
		return entry{t: res.Val.(*tenant.Tenant)}.answer()
	case errors.Is(res.Err, tenant.ErrNotFound):
		return nil, errNotFound
	case hadOld && c.now() < old.stale:
		return old.answer()
	case errors.Is(res.Err, ErrUnavailable):
		// ErrBusy says it already.
		return nil, res.Err
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, res.Err)
}

// read returns the function that reads id from the store, on a context
// detached from the request's, and remembers the answer. A charged read
// takes a token of the miss budget first and gives it back when it finds a
// tenant.
func (c *Cache) read(ctx context.Context, id string, charged bool) func() (any, error) {
	return func() (any, error) {
		if charged && !c.takeMiss() {
			return nil, ErrBusy
		}
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.LookupTimeout)
		defer cancel()
		c.reads.Add(1)
		t, err := c.src.Get(rctx, id)
		if charged && err == nil {
			c.refundMiss()
		}
		if !c.remember(id, gen, t, err) && c.learner != nil && c.learner.unsettled(id) {
			// An event came in while the read ran (an event of any
			// tenant: the generation is shared), so its answer was not
			// kept. The learner still waits to hear about this tenant
			// (its status, its domain), so read it again; later callers
			// join the new read.
			c.group.Forget(id)
			c.group.DoChan(id, c.read(context.WithoutCancel(ctx), id, false))
		}
		return t, err
	}
}

// remember stores the answer of a store read unless an invalidation came
// in while the read was running, and tells the learner what the read
// found. An active tenant is kept for TTL; an inactive one is kept, like
// an unknown ID, for NegativeTTL among the negative entries. A failed read
// leaves the entry in place, marked failing, for RetryInterval. It reports
// false only when an invalidation made it drop an answer.
func (c *Cache) remember(id string, gen uint64, t *tenant.Tenant, err error) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return err != nil && !errors.Is(err, tenant.ErrNotFound)
	}
	found := err == nil && t != nil
	if !found && !errors.Is(err, tenant.ErrNotFound) {
		for _, m := range []map[string]entry{c.pos, c.neg} {
			if e, ok := m[id]; ok && now < e.stale {
				e.expires, e.failing = now+int64(c.cfg.RetryInterval), true
				m[id] = e
			}
		}
		return true
	}
	if !found {
		t = nil
	}
	if c.learner != nil {
		c.learner.learn(id, t)
	}
	if found && t.Active() {
		delete(c.neg, id)
		expires := now + int64(c.cfg.TTL)
		put(c.pos, c.cfg.MaxEntries, id, entry{t: t, expires: expires, stale: expires + int64(c.cfg.StaleTTL)}, now)
		return true
	}
	delete(c.pos, id)
	expires := now + int64(c.cfg.NegativeTTL)
	put(c.neg, c.cfg.MaxNegative, id, entry{t: t, expires: expires, stale: expires + int64(c.cfg.StaleTTL)}, now)
	return true
}

// put inserts e, first making room when m is full: it drops an entry past
// its stale window if one of a few sampled is, and otherwise the first one
// sampled. Go randomises map iteration, so that is a random eviction, which
// needs no bookkeeping on the read path (an LRU would take the write lock
// on every hit).
func put(m map[string]entry, limit int, id string, e entry, now int64) {
	if _, ok := m[id]; !ok && len(m) >= limit {
		victim, n := "", 0
		for k, v := range m {
			if victim == "" || v.stale < now {
				victim = k
			}
			if n++; v.stale < now || n >= 8 {
				break
			}
		}
		delete(m, victim)
	}
	m[id] = e
}

// takeMiss takes a token from the bucket that bounds the reads of IDs that
// turn out unknown.
func (c *Cache) takeMiss() bool {
	rate := float64(c.cfg.MissesPerSecond)
	if rate < 0 {
		return true
	}
	now := c.now()
	c.missMu.Lock()
	defer c.missMu.Unlock()
	c.missTokens = min(rate, c.missTokens+rate*float64(now-c.missLast)/float64(time.Second))
	c.missLast = now
	if c.missTokens < 1 {
		return false
	}
	c.missTokens--
	return true
}

// refundMiss gives back the token of a read that found a tenant.
func (c *Cache) refundMiss() {
	if c.cfg.MissesPerSecond < 0 {
		return
	}
	c.missMu.Lock()
	c.missTokens = min(float64(c.cfg.MissesPerSecond), c.missTokens+1)
	c.missMu.Unlock()
}

// Invalidate drops what the cache knows about id, so that the next request
// reads the store. An in-flight read for id is not joined by later callers.
func (c *Cache) Invalidate(id string) {
	c.invalidate(store.Event{TenantID: id})
}

// invalidate drops the entries of e's tenant and, under the same lock (so
// in order with what reads teach it), passes e to the learner.
func (c *Cache) invalidate(e store.Event) {
	c.mu.Lock()
	delete(c.pos, e.TenantID)
	delete(c.neg, e.TenantID)
	c.gen++
	if c.learner != nil && e.Type != "" {
		c.learner.apply(e)
	}
	c.mu.Unlock()
	c.group.Forget(e.TenantID)
}

// InvalidateAll marks every entry as expired but keeps it for the stale window:
// the next request for each tenant reads the store, and the old answer is
// still served if the store fails.
func (c *Cache) InvalidateAll() {
	c.mu.Lock()
	for _, m := range []map[string]entry{c.pos, c.neg} {
		for k, e := range m {
			e.expires = 0
			m[k] = e
		}
	}
	c.gen++
	c.mu.Unlock()
}

// Handle applies a tenant event from the store: a change to a tenant drops
// its entry; a reset (the event subscription started or resumed, so events
// may have been missed) expires everything. Pass it to
// [store.Events.Subscribe].
//
// With a [Directory] as Known, the event reaches the directory too (a
// reset makes it reload), and the tenant of a created or updated event is
// read at once in the background, so that the directory learns its status,
// custom domain and issuer and audience before a request asks for them.
func (c *Cache) Handle(e store.Event) {
	if e.Type == store.EventReset {
		c.InvalidateAll()
		if c.learner != nil {
			c.learner.apply(e)
		}
		return
	}
	if e.TenantID == "" {
		return
	}
	c.invalidate(e)
	if c.learner != nil && e.Type != store.EventDeleted {
		c.settle(e.TenantID, 0)
	}
}

// settleAttempts bounds the reads settle makes for one event: with the
// delays doubling from RetryInterval (1 s by default), the last is about
// four minutes after the event; past that the directory's next reload
// settles the tenant.
const settleAttempts = 8

// settle reads the tenant an event named, so that the learner hears its
// status, domain and pair. While the learner waits for them, every name
// it does not hold is read rather than refused, so a read that fails (the
// store briefly unreachable) is tried again, RetryInterval later and then
// at doubling intervals, for as long as the tenant stays unsettled: not
// until the directory's next reload.
func (c *Cache) settle(id string, attempt int) {
	ch := c.group.DoChan(id, c.read(context.Background(), id, false))
	if attempt+1 >= settleAttempts {
		return
	}
	go func() {
		res := <-ch
		if res.Err == nil || errors.Is(res.Err, tenant.ErrNotFound) || !c.learner.unsettled(id) {
			return
		}
		time.AfterFunc(c.cfg.RetryInterval<<attempt, func() {
			if c.learner.unsettled(id) {
				c.settle(id, attempt+1)
			}
		})
	}()
}

// CacheStats is a snapshot of a cache's size and store traffic.
type CacheStats struct {
	Entries, NegativeEntries int
	// StoreReads counts the reads the cache made from its Getter.
	StoreReads int64
	// RuledOut counts the answers its Known gave without a store read
	// (an absent or inactive ID).
	RuledOut int64
}

// Stats returns the current size and read count, for metrics and tests.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CacheStats{Entries: len(c.pos), NegativeEntries: len(c.neg), StoreReads: c.reads.Load(), RuledOut: c.ruledOut.Load()}
}
