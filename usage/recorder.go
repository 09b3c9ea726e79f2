package usage

import (
	"cmp"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Defaults of [Config].
const (
	DefaultInterval   = 10 * time.Second
	DefaultMaxTenants = 100000
)

// ErrConfig is wrapped by the error [New] returns for a bad configuration.
var ErrConfig = errors.New("usage: invalid configuration")

// Config configures [New]. Only Store is required.
type Config struct {
	// Store receives the counts. Required.
	Store store.Usage
	// Interval is how often the counts are written once [Recorder.Start]
	// has been called. A process that dies without Close loses at most
	// this much of its counts while Redis is up.
	// default: DefaultInterval (10 seconds; TENANT_USAGE_INTERVAL)
	Interval time.Duration
	// MaxTenants bounds the tenant and day pairs counted between two
	// writes, so that memory stays bounded whatever IDs the hooks are
	// given; the counts of further pairs are dropped and the drop logged.
	// default: DefaultMaxTenants (100,000)
	MaxTenants int
	// Logger receives failed writes and drops.
	// default: slog.Default()
	Logger *slog.Logger
	// Now is the clock that decides a count's day (in UTC). It is read
	// when a day ends and at every write, never per count: a clock read
	// costs more than a count (some 200 ns on a virtual machine without a
	// fast clock source).
	// default: time.Now
	Now func() time.Time
}

// counter names one of the counters every tenant has.
type counter int

const (
	served counter = iota
	rateLimited
	authRefused
	sessionsOpened
	logins
	numCounters
)

// tally is what one tenant used on one day since the last write.
type tally struct {
	tenant string
	day    int64 // UTC, in days since the Unix epoch
	n      [numCounters]atomic.Int64

	mu    sync.Mutex
	tools map[string]int64 // at most store.MaxToolNames names and "other"

	// idle is set when a write found nothing to take, so that a tally
	// is dropped after two quiet intervals and memory follows the
	// tenants that are active. Only the writer touches it, under the
	// shard's write lock.
	idle bool
}

// shardCount spreads the tenants over locks, so that requests of
// different tenants rarely share one.
const shardCount = 64

// shard holds the tallies of some tenants. A count takes the read lock
// (shared, so counts of one shard run in parallel) and a write takes the
// write lock: a count is therefore never in flight while its tally is
// emptied or dropped, which is what makes the counts exact.
type shard struct {
	mu sync.RWMutex
	// m holds each tenant's tally of its latest day. It is keyed by the
	// ID alone, since a string key hashes faster than a struct; a tally of
	// an earlier day moves to past when the tenant's first count of a new
	// day arrives.
	m    map[string]*tally
	past []*tally
	// The padding keeps two shards' locks off one cache line.
	_ [64]byte
}

// Recorder counts each tenant's usage in memory and writes it to a store.
// Create one with [New]; it is safe for concurrent use. A nil *Recorder
// counts nothing, so a host can call its methods whether or not usage is
// configured.
type Recorder struct {
	store      store.Usage
	interval   time.Duration
	maxTenants int64
	log        *slog.Logger
	now        func() time.Time
	writer     string

	shards  [shardCount]shard
	day     atomic.Int64 // the current UTC day, in days since the Unix epoch
	tallies atomic.Int64 // tallies in all shards
	dropped atomic.Int64 // counts dropped since the last write

	flushMu sync.Mutex
	seq     uint64
	pending *store.UsageBatch // a batch whose write failed, sent again first

	startOnce sync.Once
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
	started   atomic.Bool
}

// New returns a Recorder writing to cfg.Store. It does not write on its
// own until [Recorder.Start] is called.
func New(cfg Config) (*Recorder, error) {
	if cfg.Store == nil {
		return nil, errors.Join(ErrConfig, errors.New("usage: Store is required"))
	}
	conf.Default(&cfg.Interval, DefaultInterval)
	conf.Default(&cfg.MaxTenants, DefaultMaxTenants)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	conf.Clock(&cfg.Now)
	r := &Recorder{
		store:      cfg.Store,
		interval:   cfg.Interval,
		maxTenants: int64(cfg.MaxTenants),
		log:        cfg.Logger,
		now:        cfg.Now,
		// The writer's name tells this process's batches from every
		// other's, including an earlier run of the same host: 128
		// random bits.
		writer: rand.Text(),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range r.shards {
		r.shards[i].m = map[string]*tally{}
	}
	r.roll()
	return r, nil
}

// Served counts a request of the tenant that was served.
func (r *Recorder) Served(tenantID string) { r.count(tenantID, served) }

// RateLimited counts a request of the tenant refused for its rate limit.
func (r *Recorder) RateLimited(tenantID string) { r.count(tenantID, rateLimited) }

// AuthRefused counts a request of the tenant refused for its
// authentication (a missing, malformed or rejected token).
func (r *Recorder) AuthRefused(tenantID string) { r.count(tenantID, authRefused) }

// SessionOpened counts an MCP session the tenant opened.
func (r *Recorder) SessionOpened(tenantID string) { r.count(tenantID, sessionsOpened) }

// Login counts a login through the tenant's authorization server.
func (r *Recorder) Login(tenantID string) { r.count(tenantID, logins) }

// ToolCall counts a call of the named tool by the tenant. A name that is
// not a valid MCP tool name (see [store.ValidToolName]), and any name past
// the 64th of the tenant's day, is counted as "other".
func (r *Recorder) ToolCall(tenantID, tool string) {
	if r == nil || !tenant.ValidID(tenantID) {
		return
	}
	if !store.ValidToolName(tool) {
		tool = store.OtherTool
	}
	r.with(tenantID, func(t *tally) {
		t.mu.Lock()
		if t.tools == nil {
			t.tools = make(map[string]int64)
		}
		if _, ok := t.tools[tool]; !ok && len(t.tools) >= store.MaxToolNames {
			tool = store.OtherTool
		}
		if _, ok := t.tools[tool]; !ok {
			tool = strings.Clone(tool) // not a piece of a larger string the map would keep alive
		}
		t.tools[tool]++
		t.mu.Unlock()
	})
}

// count adds one to a counter of the tenant's day. It is the hot path:
// no allocation and no clock read once the tenant's tally of the day
// exists, one read lock shared with the other tenants of the shard, and
// one atomic add.
func (r *Recorder) count(tenantID string, c counter) {
	if r == nil || !tenant.ValidID(tenantID) {
		return
	}
	day := r.today()
	sh := &r.shards[shardOf(tenantID)]
	sh.mu.RLock()
	if t := sh.m[tenantID]; t != nil && t.day == day {
		t.n[c].Add(1)
		sh.mu.RUnlock()
		return
	}
	sh.mu.RUnlock()
	r.create(sh, tenantID, day, func(t *tally) { t.n[c].Add(1) })
}

// with runs fn on the tenant's tally of the day, under the shard's read
// lock.
func (r *Recorder) with(tenantID string, fn func(*tally)) {
	day := r.today()
	sh := &r.shards[shardOf(tenantID)]
	sh.mu.RLock()
	if t := sh.m[tenantID]; t != nil && t.day == day {
		fn(t)
		sh.mu.RUnlock()
		return
	}
	sh.mu.RUnlock()
	r.create(sh, tenantID, day, fn)
}

// create makes the tenant's tally of day, unless another count has
// meanwhile, and runs fn on it, under the shard's write lock.
func (r *Recorder) create(sh *shard, tenantID string, day int64, fn func(*tally)) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.m[tenantID]
	if t == nil || t.day != day {
		if r.tallies.Load() >= r.maxTenants {
			r.dropped.Add(1)
			return
		}
		if t != nil {
			sh.past = append(sh.past, t)
		}
		t = &tally{tenant: strings.Clone(tenantID), day: day}
		sh.m[t.tenant] = t
		r.tallies.Add(1)
	}
	fn(t)
}

// today is the current UTC day in days since the Unix epoch: the day the
// clock said at the last roll.
func (r *Recorder) today() int64 { return r.day.Load() }

// roll reads the clock and makes its UTC day the day counts go to, and
// returns how long until that day ends.
func (r *Recorder) roll() time.Duration {
	now := r.now()
	s := now.Unix()
	d := s / 86400
	if s < 0 && s%86400 != 0 {
		d-- // floor, for clocks before 1970 in tests
	}
	r.day.Store(d)
	return time.Unix((d+1)*86400, 0).Sub(now)
}

// shardOf spreads tenant IDs over the shards with FNV-1a.
func shardOf(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % shardCount)
}
