package memstore

import (
	"strings"
	"sync"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Default lifetimes, the same as redisstore's and as Seed's today.
const (
	DefaultClientTTL  = 720 * time.Hour
	DefaultSessionTTL = 24 * time.Hour
)

// Config configures a [Store]. The zero value is ready to use.
type Config struct {
	// Clock returns the current time; tests inject a fake one to make
	// clients, sessions and rate limits expire without waiting.
	// default: time.Now
	Clock func() time.Time
	// ClientTTL is how long a registered client lives.
	// default: 720h (30 days)
	ClientTTL time.Duration
	// SessionTTL is how long a session lives after its creation or its
	// last Touch.
	// default: 24h
	SessionTTL time.Duration
}

// Store keeps tenants, clients, sessions and limiter state in memory. Create
// one with [New].
//
// The store interfaces share method names (Tenants.Get and Clients.Get,
// for example), so one type cannot implement them all: a Store is the
// [store.Limiter] and the [store.Events], and hands out the other three as
// views with [Store.Tenants], [Store.Clients] and [Store.Sessions]. The
// views share the Store's data and cost nothing to ask for.
type Store struct {
	tenants  Tenants
	clients  Clients
	sessions Sessions

	clock      func() time.Time
	clientTTL  time.Duration
	sessionTTL time.Duration

	mu    sync.Mutex
	keys  map[string]*entry // every Redis key but the index, by name
	index map[string]bool   // the members of keys.Index
	subs  map[*subscriber]bool
}

// Compile-time checks that a Store is every kind of store.
var (
	_ store.Tenants   = (*Tenants)(nil)
	_ store.Swapper   = (*Tenants)(nil)
	_ store.Clients   = (*Clients)(nil)
	_ store.Sessions  = (*Sessions)(nil)
	_ store.Grants    = (*Grants)(nil)
	_ store.Usage     = (*Usage)(nil)
	_ store.Audit     = (*Audit)(nil)
	_ store.AdminKeys = (*AdminKeys)(nil)
	_ store.Limiter   = (*Store)(nil)
	_ store.Events    = (*Store)(nil)
	_ store.Marker    = (*Store)(nil)
	_ store.Backend   = backend{}
)

// New returns an empty Store.
func New(opts Config) *Store {
	s := &Store{
		clock:      opts.Clock,
		clientTTL:  opts.ClientTTL,
		sessionTTL: opts.SessionTTL,
		keys:       map[string]*entry{},
		index:      map[string]bool{},
		subs:       map[*subscriber]bool{},
	}
	s.tenants.s, s.clients.s, s.sessions.s = s, s, s
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.clientTTL <= 0 {
		s.clientTTL = DefaultClientTTL
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = DefaultSessionTTL
	}
	return s
}

// Tenants is the tenant registry of a [Store].
type Tenants struct{ s *Store }

// Clients holds the registered OAuth clients of a [Store]'s tenants.
type Clients struct{ s *Store }

// Sessions holds the sessions of a [Store]'s tenants.
type Sessions struct{ s *Store }

// Grants holds the OAuth grant records of a [Store]'s tenants, with the
// semantics of redisstore's: single-use Take, expiry, and removal by a
// tenant's cascade delete.
type Grants struct{ s *Store }

// Usage holds the usage counts of a [Store]'s tenants with the semantics
// of redisstore's: one record per tenant and day under the same key,
// expiring 400 days after its day, batches applied once per writer, and
// removal by a tenant's cascade delete.
type Usage struct{ s *Store }

// Audit holds the audit trails of a [Store]'s tenants with the semantics
// of redisstore's: events only for a tenant that exists, IDs that grow,
// the trail capped (here exactly) and removed by a cascade delete.
type Audit struct{ s *Store }

// AdminKeys holds the admin keys of a [Store]'s tenants with the
// semantics of redisstore's, removed by a tenant's cascade delete.
type AdminKeys struct{ s *Store }

// Tenants returns the tenant registry of s.
func (s *Store) Tenants() *Tenants { return &s.tenants }

// Clients returns the client store of s.
func (s *Store) Clients() *Clients { return &s.clients }

// Sessions returns the session store of s.
func (s *Store) Sessions() *Sessions { return &s.sessions }

// Grants returns the grant store of s. It shares s's data.
func (s *Store) Grants() *Grants { return &Grants{s: s} }

// Usage returns the usage store of s. It shares s's data.
func (s *Store) Usage() *Usage { return &Usage{s: s} }

// Audit returns the audit store of s. It shares s's data.
func (s *Store) Audit() *Audit { return &Audit{s: s} }

// AdminKeys returns the admin key store of s. It shares s's data.
func (s *Store) AdminKeys() *AdminKeys { return &AdminKeys{s: s} }

// Backend returns s as a [store.Backend], for code that takes any store,
// such as the root package's Service. The views it hands out are s's own
// (a *Tenants, a *Clients, ...), and it has s's other methods too, so
// type assertions reach everything s implements.
func (s *Store) Backend() store.Backend { return backend{s} }

// backend gives a Store the view methods of store.Backend, which return
// the store interfaces rather than this package's types. It embeds the
// Store, so the Limiter, Leaser and Events methods (and the optional
// ones) are the Store's own.
type backend struct{ *Store }

func (b backend) Tenants() store.Tenants     { return b.Store.Tenants() }
func (b backend) Clients() store.Clients     { return b.Store.Clients() }
func (b backend) Sessions() store.Sessions   { return b.Store.Sessions() }
func (b backend) Grants() store.Grants       { return b.Store.Grants() }
func (b backend) Usage() store.Usage         { return b.Store.Usage() }
func (b backend) Audit() store.Audit         { return b.Store.Audit() }
func (b backend) AdminKeys() store.AdminKeys { return b.Store.AdminKeys() }

// entry is one Redis key: a string value, a sorted set or limiter state.
type entry struct {
	value []byte
	// zset maps the members of a sorted set to their scores, which are
	// expiry times in unix milliseconds as in redisstore.
	zset map[string]int64
	// tat is the limiter's theoretical arrival time in unix microseconds.
	tat int64
	// expireAt is the expiry in unix milliseconds, 0 for none. Like Redis,
	// a key is live while now <= expireAt.
	expireAt int64
}

// now returns the clock's time for records (UTC, to the millisecond, the
// same rounding redisstore applies) and in unix milliseconds for expiry.
func (s *Store) now() (time.Time, int64) {
	t := s.clock().UTC().Truncate(time.Millisecond)
	return t, t.UnixMilli()
}

// locked is the opening the writes share (and read and Grants.Get, which
// go with remove and Take): when valid, the outcome of the checks of its
// arguments (made before the lock is taken), is nil, it runs fn with s.mu
// held and the clock's time, as [Store.now] gives it, and returns fn's
// error; otherwise it returns valid as it is.
func (s *Store) locked(valid error, fn func(now time.Time, nowMs int64) error) error {
	if valid != nil {
		return valid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(s.now())
}

// unrecorded reports whether the tenant has no record, so that its clients,
// sessions and grants are refused, as redisstore's scripts refuse them.
// Tenant default is never unrecorded: single-tenant mode serves it from
// its configuration without a record. The caller holds s.mu.
func (s *Store) unrecorded(tenantID string, nowMs int64) bool {
	return tenantID != tenant.DefaultID && s.get(keys.Metadata(tenantID), nowMs) == nil
}

// get returns the live entry of key, dropping it when it has expired.
// The caller holds s.mu.
func (s *Store) get(key string, nowMs int64) *entry {
	e := s.keys[key]
	if e == nil {
		return nil
	}
	if e.expireAt != 0 && nowMs > e.expireAt {
		delete(s.keys, key)
		return nil
	}
	return e
}

// unlink removes the keys that start with prefix and reports how many of
// them were live, as UNLINK would. The caller holds s.mu.
func (s *Store) unlink(prefix string, nowMs int64) int64 {
	var n int64
	for key := range s.keys {
		if strings.HasPrefix(key, prefix) {
			if s.get(key, nowMs) != nil {
				n++
			}
			delete(s.keys, key)
		}
	}
	return n
}

// Len returns the number of live keys the equivalent Redis database would
// hold, the index included. Tests use it to check that a cascade delete
// leaves nothing behind.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	n := 0
	domains, issuers := false, false
	for key := range s.keys {
		if s.get(key, nowMs) != nil {
			n++
			domains = domains || strings.HasPrefix(key, keys.Domain(""))
			issuers = issuers || strings.HasPrefix(key, keys.OIDCClaim(""))
		}
	}
	inactive := false
	for id := range s.index {
		if e := s.get(keys.Metadata(id), nowMs); e != nil && !activeRecord(e.value) {
			inactive = true
		}
	}
	// The shared sets of redisstore: the index, the custom domains, the
	// issuer and audience pairs and the inactive tenants, each a key while
	// it has members.
	for _, set := range []bool{len(s.index) > 0, domains, issuers, inactive} {
		if set {
			n++
		}
	}
	return n
}
