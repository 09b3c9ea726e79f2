package middleware

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Presence is what a [Known] says about a key before a [Cache] reads the
// store for it.
type Presence int8

// The answers of a Known.
const (
	// MayExist means nothing certain is known (the directory is not
	// loaded, or holds the key only in its filter): the cache reads the
	// store, and a read that finds nothing is charged to the miss budget.
	MayExist Presence = iota
	// Absent means the key does not exist: the cache answers "not found"
	// without reading the store and without charging the budget.
	Absent
	// Inactive means the key is a tenant (or the domain of a tenant) that
	// is not active: answered like Absent, without reading the store.
	Inactive
	// Exists means the key exists: the cache reads the store for it
	// without charging the budget, so that a flood of made-up keys can
	// never keep a real tenant from being read and served.
	Exists
)

// Known tells a [Cache] which keys exist, so that it answers a key that
// does not exist without reading the store. [Directory] is the Known of a
// cache of tenants, [Directory.Domains] of a cache of custom domains, and
// [Directory.Issuers] of a cache of OIDC issuers and audiences.
// Presence is called on every request the cache holds nothing fresh for,
// so it must be fast and safe for concurrent use.
type Known interface {
	Presence(key string) Presence
}

// learner is implemented by a Known that follows the tenant events and
// learns from the store reads of its cache. The cache calls both under its
// own lock, in the order the reads and events happened.
type learner interface {
	// apply applies a tenant event.
	apply(e store.Event)
	// learn records what a store read of id found: the tenant, or nil
	// when there is none.
	learn(id string, t *tenant.Tenant)
	// unsettled reports whether an event named id and no read has
	// told the learner about it since.
	unsettled(id string) bool
}

// Defaults of [DirectoryConfig].
const (
	DefaultMaxExact       = 100_000
	DefaultReloadInterval = 10 * time.Minute
)

// DirectoryConfig configures a [Directory]. The zero value is ready to use.
type DirectoryConfig struct {
	// MaxExact is how many tenant IDs, and separately how many custom
	// domains and how many issuer and audience pairs, the directory holds
	// exactly, at about 55 bytes each (a pair, held as a 32-byte digest
	// whatever its length, about 140). Above
	// it, it holds them in a Bloom filter, at 3 to 12 bytes each (a
	// million tenants: about 7 MiB). A name the filter wrongly holds
	// (about 1 in 100,000 made-up names) costs one store read charged to
	// the miss budget, and a deleted name stays in the filter, answered by
	// a store read, until the next reload.
	// Inactive tenants are always held exactly, up to MaxExact of them;
	// beyond, the others are read from the store before they are refused.
	// default: 100,000
	MaxExact int
	// ReloadInterval is how often the whole directory is read again. The
	// tenant events keep it current in between; the reload only repairs
	// what an event lost without a break of the subscription would leave
	// wrong, and empties the filter of deleted names.
	// default: 10 minutes
	ReloadInterval time.Duration
	// Logger receives the failures of loads.
	// default: slog.Default()
	Logger *slog.Logger
}

// maxPending bounds the changes kept while a load runs. A load during
// which more arrive is abandoned (and retried): the changes already applied
// to the current state keep it right meanwhile.
const maxPending = 1 << 16

// Directory is the replica's knowledge of which tenants exist, which of
// them are active, and which custom domains and OIDC issuer and audience
// pairs exist and whose they are: kept
// in memory from a [store.Directory], loaded at start, followed through
// the tenant events, and loaded again after every [store.EventReset] (the
// event subscription broke, so events may have been missed) and every
// [DirectoryConfig.ReloadInterval].
//
// Give it to a [Cache] of tenants as its [CacheConfig.Known],
// [Directory.Domains] to a cache of custom domains and [Directory.Issuers]
// to a cache of issuers and audiences; the tenant cache then
// passes it the events of [Cache.Handle] and what its store reads find.
// Until the first load completes (the store may be down at start), it
// answers [MayExist] for every key and the caches behave as without it.
//
// A tenant created on another replica is unknown here until its created
// event arrives, usually within milliseconds; a request in that window is
// answered 404 like any unknown ID, and the next one after the event is
// served. If the event is lost because the subscription broke, the reset
// that follows reloads the directory.
//
// A Directory is safe for concurrent use.
type Directory struct {
	src store.Directory
	cfg DirectoryConfig

	// loadMu serialises loads.
	loadMu sync.Mutex

	mu  sync.RWMutex
	cur *snapshot // nil until the first load
	// recording is set while a load runs: events and what reads found are
	// applied to cur and kept in pending, to be applied again, in order,
	// to what the load read.
	recording bool
	pending   []change
	overflow  bool
	// wantGen counts the reloads asked for (a reset asks for one); doneGen
	// is the highest of them that a completed load started after. loaded
	// is closed by the first load and replaced by every later one.
	wantGen, doneGen uint64
	changed          chan struct{}
	loadedAt         time.Time

	reload     chan struct{}
	loads      atomic.Int64
	loadErrors atomic.Int64
}

var _ Known = (*Directory)(nil)

// NewDirectory returns a directory that loads from src. It is empty (every
// key [MayExist]) until [Directory.Load] or [Directory.Run] loads it.
func NewDirectory(src store.Directory, cfg DirectoryConfig) *Directory {
	conf.Default(&cfg.MaxExact, DefaultMaxExact)
	conf.Default(&cfg.ReloadInterval, DefaultReloadInterval)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	return &Directory{
		src:     src,
		cfg:     cfg,
		changed: make(chan struct{}),
		reload:  make(chan struct{}, 1),
		wantGen: 1,
	}
}

// Presence reports what the directory knows about the tenant ID.
func (d *Directory) Presence(id string) Presence {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.cur == nil {
		return MayExist
	}
	return d.cur.tenant(id)
}

// Domains returns the directory's view of custom domains, the [Known] of
// a cache keyed by host: a domain nobody registered is [Absent], and a
// domain of an inactive tenant is [Inactive], both answered without a
// store read and after the same lookups, so that neither the answer nor
// its time tells them apart.
func (d *Directory) Domains() Known { return ownedView{d, (*snapshot).domain} }

// Issuers returns the directory's view of OIDC issuer and audience pairs,
// the [Known] of a cache keyed by the issuer, a NUL byte and the audience
// (the key of token mode): a pair no tenant trusts is [Absent], and a pair
// of an inactive tenant is [Inactive], both answered without a store read
// and after the same lookups, like [Directory.Domains]. A pair is tested
// by its SHA-256, the [store.IssuerPair] the store lists it by.
func (d *Directory) Issuers() Known { return ownedView{d, (*snapshot).issuer} }

// ownedView is the Known of the names a snapshot holds with their tenants
// (custom domains, issuer pairs), answered by presence.
type ownedView struct {
	d        *Directory
	presence func(*snapshot, string) Presence
}

func (v ownedView) Presence(name string) Presence {
	d := v.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.cur == nil {
		return MayExist
	}
	return v.presence(d.cur, name)
}

// Run loads the directory, then reloads it after every reset event and
// every ReloadInterval, until ctx is done; then it returns ctx's error. A
// load that fails is retried with a back-off of 1 to 30 seconds, and the
// directory keeps answering from what it had (or [MayExist] before the
// first load).
func (d *Directory) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		wait := d.cfg.ReloadInterval
		if err := d.Load(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d.cfg.Logger.Warn("tenancy: loading the tenant directory failed", "error", err, "retry", backoff)
			wait, backoff = backoff, min(2*backoff, 30*time.Second)
		} else {
			backoff = time.Second
		}
		timer := time.NewTimer(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-d.reload:
				// A reset asks for a load that starts after it; the load
				// just made may have done so already (the reset came just
				// before it), and a directory of a million tenants is not
				// read twice for one reset.
				if !d.upToDate() {
					break waiting
				}
			case <-timer.C:
				break waiting
			}
		}
		timer.Stop()
	}
}

// upToDate reports whether the directory has completed a load that
// started after the last reset event it was given.
func (d *Directory) upToDate() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cur != nil && d.doneGen >= d.wantGen
}

// Load reads the whole directory from the store and replaces what the
// directory held, once it has applied the events that arrived meanwhile.
func (d *Directory) Load(ctx context.Context) error {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	d.mu.Lock()
	gen := d.wantGen
	d.recording, d.pending, d.overflow = true, nil, false
	d.mu.Unlock()

	snap, err := d.read(ctx)

	d.mu.Lock()
	defer d.mu.Unlock()
	pending, overflow := d.pending, d.overflow
	d.recording, d.pending, d.overflow = false, nil, false
	if err == nil && overflow {
		err = fmt.Errorf("middleware: more than %d tenant events while the directory loaded", maxPending)
	}
	if err != nil {
		d.loadErrors.Add(1)
		return err
	}
	for _, c := range pending {
		c.to(snap)
	}
	d.cur = snap
	d.loads.Add(1)
	d.loadedAt = time.Now()
	d.doneGen = max(d.doneGen, gen)
	close(d.changed)
	d.changed = make(chan struct{})
	return nil
}

// read reads the four lists of the store into a new snapshot.
func (d *Directory) read(ctx context.Context) (*snapshot, error) {
	s := newSnapshot(d.cfg.MaxExact)
	err := d.src.TenantIDs(ctx, func(ids []string) error {
		for _, id := range ids {
			if tenant.ValidID(id) {
				s.ids.add(id)
			}
		}
		return nil
	})
	if err == nil {
		err = d.src.InactiveIDs(ctx, func(ids []string) error {
			for _, id := range ids {
				s.setInactive(id, true)
			}
			return nil
		})
	}
	if err == nil {
		err = d.src.Domains(ctx, func(hosts, ids []string) error {
			for i, host := range hosts {
				if tenant.ValidDomain(host) && tenant.ValidID(ids[i]) {
					s.domains.set(ids[i], host)
				}
			}
			return nil
		})
	}
	if err == nil {
		err = d.src.Issuers(ctx, func(pairs, ids []string) error {
			for i, pair := range pairs {
				if digest, err := hex.DecodeString(pair); err == nil && len(digest) == 32 && tenant.ValidID(ids[i]) {
					s.issuers.set(ids[i], string(digest))
				}
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("middleware: load the tenant directory: %w", err)
	}
	return s, nil
}

// Wait blocks until the directory has completed a load that started after
// the last reset event it was given (before any reset: the first load), or
// until ctx is done. A readiness probe can wait for it.
func (d *Directory) Wait(ctx context.Context) error {
	for {
		d.mu.RLock()
		ch := d.changed
		d.mu.RUnlock()
		if d.upToDate() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// apply follows one tenant event; a reset asks Run for a reload.
func (d *Directory) apply(e store.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.Type == store.EventReset {
		d.wantGen++
		select {
		case d.reload <- struct{}{}:
		default:
		}
		return
	}
	d.change(change{event: e})
}

// learn records what a store read of id found.
func (d *Directory) learn(id string, t *tenant.Tenant) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.change(change{id: id, t: t, read: true})
}

// unsettled reports whether id waits for a read since its last event.
func (d *Directory) unsettled(id string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.cur == nil {
		return false
	}
	_, ok := d.cur.unsettled[id]
	return ok
}

// change applies c to the current snapshot and keeps it for the one a
// running load reads. The caller holds d.mu.
func (d *Directory) change(c change) {
	if d.cur != nil {
		c.to(d.cur)
	}
	if d.recording {
		if len(d.pending) < maxPending {
			d.pending = append(d.pending, c)
		} else {
			d.overflow = true
		}
	}
}

// change is an event or what a store read found.
type change struct {
	event store.Event
	read  bool
	id    string
	t     *tenant.Tenant
}

func (c change) to(s *snapshot) {
	if c.read {
		s.learn(c.id, c.t)
	} else {
		s.apply(c.event)
	}
}

// DirectoryStats is a snapshot of what a directory holds.
type DirectoryStats struct {
	// Loaded reports whether a load has completed; until then the
	// directory answers [MayExist] for every key.
	Loaded bool
	// Tenants is the number of tenant IDs held. Held in a filter
	// (Approximate), it counts every ID added since the last load,
	// deleted ones included.
	Tenants int
	// Inactive is the number of inactive tenants held.
	Inactive int
	// Domains is the number of custom domains held.
	Domains int
	// Issuers is the number of issuer and audience pairs held.
	Issuers int
	// Unsettled is the number of tenants named by a created or updated
	// event whose record has not been read since. While there are any, a
	// host or pair the directory does not hold may be one of theirs: it is
	// read from the store (charged to the miss budget) rather than
	// refused.
	Unsettled   int
	Approximate bool
	// FilterBytes is the memory of the filters, when names are held in
	// filters.
	FilterBytes int
	// Loads and LoadErrors count the loads that completed and failed.
	Loads, LoadErrors int64
	// LoadedAt is the time of the last completed load.
	LoadedAt time.Time
}

// Stats returns what the directory holds, for metrics and tests.
func (d *Directory) Stats() DirectoryStats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	st := DirectoryStats{Loads: d.loads.Load(), LoadErrors: d.loadErrors.Load(), LoadedAt: d.loadedAt}
	if s := d.cur; s != nil {
		st.Loaded = true
		st.Tenants, st.Inactive = s.ids.len(), len(s.inactive)
		st.Approximate = s.ids.filter != nil
		st.Domains, st.Issuers, st.Unsettled = s.domains.len(), s.issuers.len(), len(s.unsettled)
		st.FilterBytes += s.domains.filterBytes() + s.issuers.filterBytes()
		if s.ids.filter != nil {
			st.FilterBytes += s.ids.filter.bytes()
		}
	}
	return st
}
