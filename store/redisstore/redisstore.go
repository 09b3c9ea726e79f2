package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/redisx"
	"github.com/seedmcp/tenancy/store"
)

// Defaults of [Config].
const (
	DefaultClientTTL   = 720 * time.Hour
	DefaultSessionTTL  = 24 * time.Hour
	DefaultDeleteBatch = 500
)

// Config configures a [Store]. The zero value is ready to use.
type Config struct {
	// ClientTTL is how long a registered client lives.
	// default: 720h (30 days, as Seed's DCR_CLIENT_TTL)
	ClientTTL time.Duration
	// SessionTTL is how long a session lives after its creation or its
	// last Touch.
	// default: 24h (as Seed's REDIS_SESSION_TTL)
	SessionTTL time.Duration
	// DeleteBatch is the COUNT of each SCAN and the most keys of one
	// UNLINK in a cascade delete. Small batches keep every command short,
	// so other clients' commands never wait long behind a delete of a
	// large tenant.
	// default: 500
	DeleteBatch int
	// Clock returns the time written into records: a tenant's createdAt
	// and updatedAt, a session's createdAt and lastAccessedAt. Lifetimes
	// and rate limits use the Redis server's clock instead.
	// default: time.Now
	Clock func() time.Time
	// OnChange, when set, is called with the event of every change this
	// Store makes to a tenant, just before the event is published (also
	// when publishing it then fails), so that the caches of this process
	// apply their own changes at once instead of when the event comes back
	// from Redis: a tenant created here is known here on the next request.
	// It must not block.
	// default: nil
	OnChange func(store.Event)
}

// Store keeps tenants, clients, sessions and limiter state in Redis. Create
// one with [New]; it is safe for concurrent use.
//
// The store interfaces share method names (Tenants.Get and Clients.Get,
// for example), so one type cannot implement them all: a Store is the
// [store.Limiter] and the [store.Events], and hands out the others as
// views: [Store.Tenants], [Store.Clients], [Store.Sessions],
// [Store.Grants], [Store.Usage], [Store.Audit] and [Store.AdminKeys].
// The views cost nothing to ask for; [Store.Backend] gathers them all.
type Store struct {
	tenants  Tenants
	clients  Clients
	sessions Sessions

	rdb        redis.UniversalClient
	sharded    bool      // events use sharded pub/sub: rdb is a cluster client
	topology   *follower // nil unless rdb is a cluster client
	clientTTL  time.Duration
	sessionTTL time.Duration
	batch      int
	clock      func() time.Time
	onChange   func(store.Event)
}

// Tenants is the tenant registry of a [Store].
type Tenants struct{ s *Store }

// Clients holds the registered OAuth clients of a [Store]'s tenants.
type Clients struct{ s *Store }

// Sessions holds the sessions of a [Store]'s tenants.
type Sessions struct{ s *Store }

// Grants holds the OAuth grant records of a [Store]'s tenants under
// tenant:{<id>}:oauth:<kind>:<id>, in the tenant's slot: a cascade delete
// removes them with the rest of the tenant. Every method is one round
// trip of one command.
type Grants struct{ s *Store }

// Usage holds the usage counts of a [Store]'s tenants: one hash per tenant
// and UTC day, tenant:{<id>}:usage:<date>, with a field per counter and
// one per tool ("tool:<name>"), expiring 400 days after its day.
type Usage struct{ s *Store }

// Audit holds the audit trails of a [Store]'s tenants: one stream per
// tenant, tenant:{<id>}:audit, whose entries hold the event's JSON in the
// field "e".
type Audit struct{ s *Store }

// AdminKeys holds the admin keys of a [Store]'s tenants: a hash of records
// by key ID, tenant:{<id>}:admin-keys, and a hash of last uses,
// tenant:{<id>}:admin-keys-used, so that noting a use never rewrites a
// record.
type AdminKeys struct{ s *Store }

// Compile-time checks that the Store and its views are the stores.
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

// New returns a Store on rdb. Config left zero take their defaults. The
// Store does not own rdb: closing it is the caller's business.
//
// New panics if rdb is nil (a nil interface or a nil *redis.Client,
// *redis.ClusterClient or *redis.Ring), as http.Handle does with a nil
// handler: a Store without a client would fail only on its first command,
// far from the mistake.
//
// On a Redis Cluster (a *redis.ClusterClient), New installs a hook on rdb,
// once per client however many Stores share it: whenever a command fails
// with a network error, a timeout or a cluster error reply, the client's
// slot map is reloaded (at most twice a second). go-redis itself reloads it
// only on a redirection or every ClusterStateReloadInterval (default: one
// minute), and a master that died redirects nobody: without the hook, the
// commands of its slots would keep going to it for up to a minute after
// its replica took over. With it, rdb follows a failover within about a
// second of the cluster being ok, for the host's own commands too. The
// cluster needs Redis 7 or later (the tenant events use sharded pub/sub;
// see [Store.Subscribe]).
//
// Client options worth setting on a cluster: until the replica of a dead
// master takes over, every command of its slots fails, and with go-redis's
// defaults each takes about two seconds to do so (up to four attempts,
// each dialing the dead node DialerRetries times, default 5, 100 ms
// apart), holding its request meanwhile. DialerRetries: 1 makes it fail in
// milliseconds; DialTimeout: time.Second (default: 5 s per dial) bounds a
// command to a machine that vanished without closing its connections, and
// a ReadTimeout of one to three seconds (default: 5 s) one to a node that
// hangs. ClusterStateReloadInterval need not change.
func New(rdb redis.UniversalClient, opts Config) *Store {
	if redisx.IsNil(rdb) {
		panic("redisstore: New called with a nil Redis client")
	}
	_, sharded := rdb.(*redis.ClusterClient)
	s := &Store{
		rdb:        rdb,
		sharded:    sharded,
		topology:   followTopology(rdb),
		clientTTL:  opts.ClientTTL,
		sessionTTL: opts.SessionTTL,
		batch:      opts.DeleteBatch,
		clock:      opts.Clock,
		onChange:   opts.OnChange,
	}
	s.tenants.s, s.clients.s, s.sessions.s = s, s, s
	if s.clientTTL <= 0 {
		s.clientTTL = DefaultClientTTL
	}
	if s.sessionTTL <= 0 {
		s.sessionTTL = DefaultSessionTTL
	}
	if s.batch <= 0 {
		s.batch = DefaultDeleteBatch
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	return s
}

// Tenants returns the tenant registry of s.
func (s *Store) Tenants() *Tenants { return &s.tenants }

// Clients returns the client store of s.
func (s *Store) Clients() *Clients { return &s.clients }

// Sessions returns the session store of s.
func (s *Store) Sessions() *Sessions { return &s.sessions }

// Grants returns the grant store of s. It costs nothing to ask for.
func (s *Store) Grants() *Grants { return &Grants{s: s} }

// Usage returns the usage store of s. It costs nothing to ask for.
func (s *Store) Usage() *Usage { return &Usage{s: s} }

// Audit returns the audit store of s. It costs nothing to ask for.
func (s *Store) Audit() *Audit { return &Audit{s: s} }

// AdminKeys returns the admin key store of s. It costs nothing to ask for.
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

// LoadScripts loads every Lua script of the store into the script cache of
// every node, so that even the first call of each is one round trip.
// Calling it is optional: a script the server does not know is sent once.
func (s *Store) LoadScripts(ctx context.Context) error {
	// A cluster client's SCRIPT LOAD goes to every shard.
	for _, script := range scripts {
		if err := script.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("redisstore: load scripts: %w", err)
		}
	}
	return nil
}

// now returns the time for a record: UTC, to the millisecond.
func (s *Store) now() time.Time {
	return s.clock().UTC().Truncate(time.Millisecond)
}

// millis returns d in whole milliseconds, rounded up, at least 1, as PX
// wants it. It does not overflow: math.MaxInt64, the usual "no end" of a
// time.Duration, is the longest lifetime, not a millisecond.
func millis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d%time.Millisecond > 0 {
		ms++
	}
	return max(1, ms)
}
