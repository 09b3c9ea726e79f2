package middleware

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/store"
)

// idleAfter is how long a tenant's budget is kept in memory after its last
// request. Past it, what the replica knew of the tenant (a lease long
// lapsed, a denial long over) no longer matters: a minute refills any
// tenant's whole burst.
const idleAfter = time.Minute

// leases keeps, for each tenant with a rate limit, this replica's share of
// the tenant's budget: a lease taken from the store, spent request by
// request from memory.
type leases struct {
	store    store.Leaser
	key      string
	ttl      int64 // LeaseTTL in nanoseconds
	maxLease time.Duration
	timeout  time.Duration
	cooldown int64
	clock    func() time.Time
	epoch    time.Time
	// realClock is set when clock is time.Now: the monotonic clock alone
	// is then read, which costs half of a time.Now.
	realClock bool
	logger    *slog.Logger

	// nextLog and failures limit the failure log to one line a cooldown
	// for all tenants together, however many of them see the outage.
	nextLog  atomic.Int64
	failures atomic.Int64

	mu        sync.RWMutex
	budgets   map[string]*budget
	nextSweep atomic.Int64
	sweeping  atomic.Bool
}

// budget is one tenant's state on this replica.
type budget struct {
	mu sync.Mutex
	budgetState
}

// budgetState is a budget's state, guarded by its mu. Times are
// nanoseconds since the leases' epoch.
type budgetState struct {
	// limit is the tenant's rate limit the state belongs to; interval and
	// tolerance are the store's emission interval and burst for it, in
	// nanoseconds, and limitHdr the RateLimit-Limit value.
	limit     int
	interval  int64
	tolerance int64
	limitHdr  []string
	maxSize   int
	// remN is the last RateLimit-Remaining value of 1000 or more, and
	// remHdr its header value: a tenant far under its limit answers the
	// same number request after request, and it is made once, not once a
	// request.
	remN   int
	remHdr []string

	// left is the unspent part of the lease, spendable until expires.
	left    int
	expires int64
	// granted and leasedAt describe the last lease, and size the lease
	// asked for: the next size follows the rate at which it was spent.
	granted  int
	leasedAt int64
	size     int
	// owed is the unspent part of lapsed leases, given back with the next.
	owed int
	// tat is the store's theoretical arrival time after the last lease,
	// on this replica's clock, counting the lease as spent.
	tat int64
	// deniedUntil is when the replica asks the store again after it had
	// nothing to grant; openUntil is when it tries again after a failure,
	// with failing set until a call works.
	deniedUntil int64
	openUntil   int64
	failing     bool
	// flight is the store call in progress, if any.
	flight *flight
	used   int64
	dead   bool
}

// flight is one store call for a tenant, which the tenant's other requests
// wait for instead of calling the store themselves.
type flight struct {
	done chan struct{}
	// probe marks a call made while the store was failing: requests that
	// come meanwhile go through instead of waiting for it.
	probe bool
}

// verdict is what take decided for one request.
type verdict uint8

const (
	verdictAdmit  verdict = iota // within the budget
	verdictRefuse                // over the budget: 429
	verdictPass                  // the store is failing: let through, no headers
)

// answer is a verdict with the values of its headers.
type answer struct {
	verdict    verdict
	limit      []string
	remaining  []string
	reset      int // seconds until the full burst is back
	retryAfter int // seconds, when refused
}

func newLeases(cfg RateLimitConfig) *leases {
	l := &leases{
		store:    cfg.Leaser,
		key:      cfg.Key,
		ttl:      int64(cfg.LeaseTTL),
		maxLease: cfg.MaxLease,
		timeout:  cfg.Timeout,
		cooldown: int64(cfg.Cooldown),
		clock:    cfg.Now,
		logger:   cfg.Logger,
		budgets:  map[string]*budget{},
	}
	if l.clock == nil {
		l.clock = time.Now
		l.realClock = true
	}
	l.epoch = l.clock()
	return l
}

// now reads the clock as nanoseconds since the epoch: a monotonic reading
// with the real clock, so that a step of the wall clock moves no lease.
func (l *leases) now() int64 {
	if l.realClock {
		return int64(time.Since(l.epoch))
	}
	return int64(l.clock().Sub(l.epoch))
}

// take decides one request of the tenant id, whose limit is limit. It
// calls the store only when the replica's lease is spent or lapsed, and
// then once for all the tenant's requests that need it at the same time.
func (l *leases) take(ctx context.Context, id string, limit int, a *answer) {
	now := l.now()
	b := l.budget(id, limit, now)
	b.mu.Lock()
	for {
		if b.dead {
			b.mu.Unlock()
			b = l.budget(id, limit, now)
			b.mu.Lock()
			continue
		}
		if b.limit != limit {
			b.reset(limit, l.maxLease)
		}
		b.used = now
		switch {
		case now < b.openUntil:
			b.mu.Unlock()
			a.verdict = verdictPass
			return
		case b.left > 0 && now < b.expires:
			b.left--
			b.admitted(now, a)
			b.mu.Unlock()
			return
		case now < b.deniedUntil:
			b.refused(now, a)
			b.mu.Unlock()
			return
		case b.flight != nil:
			f := b.flight
			b.mu.Unlock()
			if f.probe {
				a.verdict = verdictPass
				return
			}
			<-f.done
			now = l.now()
			b.mu.Lock()
		default:
			l.fetch(ctx, id, b, now, a)
			b.mu.Unlock()
			return
		}
	}
}

// budget returns the tenant's budget, creating it on its first request.
func (l *leases) budget(id string, limit int, now int64) *budget {
	l.mu.RLock()
	b := l.budgets[id]
	l.mu.RUnlock()
	if b != nil {
		return b
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b = l.budgets[id]; b == nil {
		b = &budget{budgetState: budgetState{used: now}}
		b.reset(limit, l.maxLease)
		l.budgets[id] = b
	}
	return b
}

// fetch takes a lease for the tenant, the caller holding b.mu (released
// during the store call), and decides the caller's own request with it.
func (l *leases) fetch(ctx context.Context, id string, b *budget, now int64, a *answer) {
	f := &flight{done: make(chan struct{}), probe: b.failing}
	b.flight = f
	if b.left > 0 {
		// The lease lapsed with requests unspent: they go back to the
		// store with this call, and stop counting against the tenant.
		b.owed += b.left
		b.left = 0
	}
	want, unused, limit := b.nextSize(now, l.ttl), b.owed, b.limit
	b.mu.Unlock()

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	got, err := l.store.Lease(cctx, id, l.key, limit, want, unused)
	cancel()
	now = l.now()

	b.mu.Lock()
	b.flight = nil
	close(f.done)
	if err != nil {
		b.failing = true
		b.openUntil = now + l.cooldown
		a.verdict = verdictPass
		l.failed(ctx, id, err)
		return
	}
	b.failing, b.openUntil = false, 0
	if limit != b.limit {
		// The tenant's limit changed during the call: the grant belongs to
		// the old budget and lapses.
		a.verdict = verdictPass
		return
	}
	b.owed = 0
	b.tat = now + int64(got.Reset)
	b.size, b.granted, b.leasedAt = want, got.Granted, now
	if got.Granted == 0 {
		// Nothing left: ask again once half a lease has come back, so that
		// a tenant far over its limit costs the store one call a half
		// lease, not one a request.
		wait := int64(got.RetryAfter) + int64(max(0, want/2-1))*b.interval
		b.deniedUntil = now + max(wait, 1)
		b.refused(now, a)
		return
	}
	b.left, b.expires = got.Granted-1, now+l.ttl
	b.admitted(now, a)
	if l.nextSweep.Load() <= now {
		l.sweep(now)
	}
}

// failed logs a store failure, at most once a cooldown.
func (l *leases) failed(ctx context.Context, id string, err error) {
	n := l.failures.Add(1)
	now := l.now()
	last := l.nextLog.Load()
	if now < last || !l.nextLog.CompareAndSwap(last, now+l.cooldown) {
		return
	}
	l.failures.Add(-n)
	l.logger.LogAttrs(ctx, slog.LevelError, "tenancy: rate limiter unavailable, letting requests through",
		slog.String("tenant", id), slog.Int64("failures", n), slog.Duration("retry", time.Duration(l.cooldown)),
		slog.String("error", err.Error()))
}

// sweep drops the budgets of tenants idle for idleAfter, in the background
// and at most once a minute.
func (l *leases) sweep(now int64) {
	if !l.sweeping.CompareAndSwap(false, true) {
		return
	}
	l.nextSweep.Store(now + int64(idleAfter))
	go func() {
		defer l.sweeping.Store(false)
		var idle []string
		l.mu.RLock()
		for id, b := range l.budgets {
			b.mu.Lock()
			if now-b.used >= int64(idleAfter) && b.flight == nil {
				idle = append(idle, id)
			}
			b.mu.Unlock()
		}
		l.mu.RUnlock()
		for _, id := range idle {
			l.mu.Lock()
			if b := l.budgets[id]; b != nil {
				b.mu.Lock()
				if now-b.used >= int64(idleAfter) && b.flight == nil {
					b.dead = true
					delete(l.budgets, id)
				}
				b.mu.Unlock()
			}
			l.mu.Unlock()
		}
	}()
}

// reset starts the budget over for a new limit. What it held under the old
// limit lapses: its requests were counted at the old rate.
func (b *budget) reset(limit int, maxLease time.Duration) {
	us := max(int64(60_000_000)/int64(limit), 1) // the store's interval, in µs
	b.budgetState = budgetState{
		limit:     limit,
		interval:  us * 1000,
		tolerance: us * 1000 * int64(limit),
		limitHdr:  []string{strconv.Itoa(limit)},
		maxSize:   maxLeaseFor(limit, maxLease),
		size:      1,
		used:      b.used,
		flight:    b.flight,
	}
}

// maxLeaseFor is the largest lease of a tenant limited to limit requests a
// minute: maxLease's worth of its budget, and at least one request.
func maxLeaseFor(limit int, maxLease time.Duration) int {
	n := float64(limit) * float64(maxLease) / float64(time.Minute)
	return int(max(1, min(n, math.MaxInt32)))
}

// leaseSpan is the share of LeaseTTL a lease is sized to last.
const leaseSpan = 0.9

// nextSize is the size of the next lease. The first is one request. Then
// each lease is what the last one's spending rate uses in nine tenths of
// a lease lifetime (a lease that lasts as long as it may costs the store
// the fewest calls, and the tenth left over absorbs a slower moment
// without letting the lease lapse unspent), at most twice the last size (so a burst grows leases step by
// step) and at most maxSize. A lease the store could not grant in full
// leaves the size as it was.
func (b *budget) nextSize(now, ttl int64) int {
	if b.granted == 0 || b.granted < b.size {
		return b.size
	}
	spent := float64(b.granted - b.left - b.owed)
	elapsed := float64(max(now-b.leasedAt, 1))
	target := spent * float64(ttl) * leaseSpan / elapsed
	return int(max(1, min(target, float64(2*b.size), float64(b.maxSize))))
}

// admitted fills a for a request admitted at now, after it was counted.
func (b *budget) admitted(now int64, a *answer) {
	// The store's arrival time with the unspent part of the lease given
	// back: the budget as it is once this request is counted.
	tat := max(b.tat-int64(b.left)*b.interval, now)
	a.verdict = verdictAdmit
	a.limit = b.limitHdr
	a.remaining = b.remainingHeader(int(min(max((now+b.tolerance-tat)/b.interval, 0), int64(b.limit))))
	a.reset = httpx.CeilSeconds(time.Duration(tat - now))
}

// refused fills a for a request refused at now.
func (b *budget) refused(now int64, a *answer) {
	a.verdict = verdictRefuse
	a.limit = b.limitHdr
	a.remaining = intHeader(0)
	a.reset = httpx.CeilSeconds(time.Duration(max(b.tat-now, 0)))
	a.retryAfter = max(1, httpx.CeilSeconds(time.Duration(b.deniedUntil-now)))
}

// remainingHeader returns the RateLimit-Remaining value of n >= 0.
func (b *budget) remainingHeader(n int) []string {
	if n < len(smallInts) {
		return smallInts[n]
	}
	if b.remHdr == nil || b.remN != n {
		b.remN, b.remHdr = n, intHeader(n)
	}
	return b.remHdr
}
