package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/redisx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// DefaultPatterns returns the SCAN patterns of the keys a single-tenant
// Seed deployment writes: registered clients, sessions and rate-limit
// state. Each call returns a new slice.
func DefaultPatterns() []string { return []string{"client:*", "session:*", "rate-limit:*"} }

// Batch size bounds. A batch is one SCAN page and the pipelines that move
// it; the upper bound keeps any single pipeline short enough that other
// clients of the server (a PING, a live request) are not held up.
const (
	DefaultBatchSize = 500
	MaxBatchSize     = 10000
)

// maxConflictKeys bounds [Result.ConflictKeys] and [Result.RefusedKeys],
// so that a deployment with millions of them does not hold them all in
// memory.
const maxConflictKeys = 100

// ErrConfig is wrapped by the error [Run] returns for an invalid [Config].
var ErrConfig = errors.New("migrate: invalid configuration")

// Config configures [Run]. The zero value moves the keys of
// [DefaultPatterns] into tenant "default".
type Config struct {
	// Patterns are the SCAN MATCH patterns of the legacy keys. Keys whose
	// name starts with "tenant:" are never moved, whatever the pattern.
	// Patterns should not overlap: a key matched twice is counted as
	// skipped the second time.
	// default: DefaultPatterns()
	Patterns []string
	// TenantID is the tenant the keys move to. A tenant other than
	// "default" must exist (have its record) before the run: keys moved
	// under an ID no tenant has yet (a typing mistake) would be inherited
	// by whichever organisation is created under that ID later.
	// default: tenant.DefaultID ("default")
	TenantID string
	// BatchSize is the SCAN COUNT hint and the most keys moved by one
	// pipeline, at most MaxBatchSize. Smaller batches keep other clients'
	// latency lower.
	// default: DefaultBatchSize (500)
	BatchSize int
	// DryRun only counts: nothing is written. The counts say what a real
	// run would do now (Moved is "would move").
	DryRun bool
	// Progress, when set, is called after every batch with the running
	// totals. Calls never overlap, even on a cluster where the masters are
	// scanned concurrently.
	Progress func(Result)
}

// hooks are the tests' ways into a run.
type hooks struct {
	// crossSlot forces the DUMP/RESTORE strategy on a single node, so
	// that tests exercise the cluster code path without a cluster.
	crossSlot bool
	// afterRestore, when set, runs between the RESTORE and the UNLINK of
	// every cross-slot batch; an error stops the run there. Tests use it
	// to interrupt a run in its most delicate window.
	afterRestore func() error
}

// Result counts what a run did. A key is counted once in exactly one of
// Moved, Skipped, Conflicts and Refused; Scanned is their sum.
type Result struct {
	// DryRun reports whether this was a dry run.
	DryRun bool
	// Scanned is the number of legacy keys found.
	Scanned int64
	// Moved is the number of keys moved (in a dry run: that would move).
	Moved int64
	// Skipped counts keys that needed no move: their target already held
	// the same content (an earlier run was interrupted after copying
	// them; the leftover legacy key is removed), or they expired or were
	// deleted between the SCAN and the move.
	Skipped int64
	// Conflicts counts legacy keys whose target exists with different
	// content. Both keys are left in place; an operator must decide.
	Conflicts int64
	// ConflictKeys lists the legacy names of the first 100 conflicts.
	ConflictKeys []string
	// Refused counts legacy keys the store would not accept: a name whose
	// part the store reads (the client ID of client:<id>, the session ID
	// of session:<id>, the limiter key of rate-limit:<key>, or the whole
	// name under other patterns) fails store.ValidKey (hash tags, bytes
	// outside printable ASCII, longer than 256 bytes, ...), or a client,
	// session or rate-limit key that is not a Redis string. Such a key is
	// left in place: it is neither moved nor indexed, so it never counts
	// against maxClients or maxSessions. An operator decides what to do
	// with it.
	Refused int64
	// RefusedKeys lists the legacy names of the first 100 refused keys.
	// The names are raw bytes from Redis: quote them (%q) before printing.
	RefusedKeys []string
}

// String summarises the result in one line, saying plainly when there was
// nothing to do.
func (r Result) String() string {
	conflicts := ""
	switch r.Conflicts {
	case 0:
	case 1:
		conflicts = ", 1 conflict left in place"
	default:
		conflicts = fmt.Sprintf(", %d conflicts left in place", r.Conflicts)
	}
	switch r.Refused {
	case 0:
	case 1:
		conflicts += ", 1 key the store refuses left in place"
	default:
		conflicts += fmt.Sprintf(", %d keys the store refuses left in place", r.Refused)
	}
	switch {
	case r.Scanned == 0 && r.DryRun:
		return "dry run: no legacy keys found, nothing to migrate"
	case r.Scanned == 0:
		return "no legacy keys found: nothing to migrate, moved 0"
	case r.DryRun:
		return fmt.Sprintf("dry run: %d legacy keys found; would move %d, %d already migrated%s",
			r.Scanned, r.Moved, r.Skipped, conflicts)
	}
	return fmt.Sprintf("%d legacy keys found: moved %d, skipped %d (already migrated or gone)%s",
		r.Scanned, r.Moved, r.Skipped, conflicts)
}

// outcome is what happened to one key.
type outcome int

const (
	moved outcome = iota
	skipped
	conflict
	// refused: a name or type the store does not accept; left in place.
	refused
)

// migration holds the state shared by the batches of one [Run].
type migration struct {
	cfg    Config
	hooks  hooks
	tenant string

	mu  sync.Mutex // guards res and serialises Progress
	res Result
}

// Run moves the legacy keys on rdb. On a *redis.ClusterClient it scans every
// master and moves each key with DUMP, RESTORE (never REPLACE) and UNLINK,
// because the legacy and the new name hash to different slots; on any other
// client one atomic script per key renames it. Either way a target that
// exists is never overwritten.
//
// Run is idempotent and resumable: a second run moves nothing, and a run
// stopped at any point (ctx cancelled, a crash, a lost connection)
// followed by another run moves every key exactly once. It returns the
// totals so far with an error when ctx is done or Redis fails; running it
// again finishes the job. An invalid cfg, or a nil rdb, is an error
// wrapping [ErrConfig].
func Run(ctx context.Context, rdb redis.UniversalClient, cfg Config) (Result, error) {
	return run(ctx, rdb, cfg, hooks{})
}

func run(ctx context.Context, rdb redis.UniversalClient, cfg Config, h hooks) (Result, error) {
	if redisx.IsNil(rdb) {
		return Result{DryRun: cfg.DryRun}, fmt.Errorf("%w: no Redis client", ErrConfig)
	}
	if err := normalize(&cfg); err != nil {
		return Result{DryRun: cfg.DryRun}, err
	}
	r := &migration{cfg: cfg, hooks: h, tenant: cfg.TenantID}
	r.res.DryRun = cfg.DryRun
	if cfg.TenantID != tenant.DefaultID {
		n, err := rdb.Exists(ctx, keys.Metadata(cfg.TenantID)).Result()
		if err != nil {
			return r.res, fmt.Errorf("migrate: read tenant %q: %w", cfg.TenantID, err)
		}
		if n == 0 {
			return r.res, fmt.Errorf("%w: tenant %q does not exist: create it first (only %q may be migrated into before it exists)",
				ErrConfig, cfg.TenantID, tenant.DefaultID)
		}
	}

	var err error
	if !cfg.DryRun {
		if err := loadScripts(ctx, rdb); err != nil {
			return r.res, fmt.Errorf("migrate: load scripts: %w", err)
		}
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, master *redis.Client) error {
			return r.scan(ctx, master, cc, true)
		})
	} else {
		err = r.scan(ctx, rdb, rdb, h.crossSlot)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		return r.res, fmt.Errorf("migrate: %w", err)
	}
	return r.res, nil
}

func normalize(o *Config) error {
	if o.TenantID == "" {
		o.TenantID = tenant.DefaultID
	}
	if err := tenant.ValidateID(o.TenantID); err != nil {
		return fmt.Errorf("%w: tenant %w", ErrConfig, err)
	}
	if len(o.Patterns) == 0 {
		o.Patterns = DefaultPatterns()
	}
	o.Patterns = slices.Compact(slices.Sorted(slices.Values(o.Patterns)))
	for _, p := range o.Patterns {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("%w: empty pattern", ErrConfig)
		}
	}
	switch {
	case o.BatchSize == 0:
		o.BatchSize = DefaultBatchSize
	case o.BatchSize < 0 || o.BatchSize > MaxBatchSize:
		return fmt.Errorf("%w: batch size %d is not within 1..%d", ErrConfig, o.BatchSize, MaxBatchSize)
	}
	return nil
}

// scan walks one node's keyspace (scanner) for every pattern and moves what
// it finds through mover, which routes each command to the right node.
func (r *migration) scan(ctx context.Context, scanner redis.Cmdable, mover redis.UniversalClient, crossSlot bool) error {
	for _, pattern := range r.cfg.Patterns {
		var cursor uint64
		for {
			page, next, err := scanner.Scan(ctx, cursor, pattern, int64(r.cfg.BatchSize)).Result()
			if err != nil {
				return err
			}
			page = slices.DeleteFunc(page, func(k string) bool {
				// Migrated keys (and every other key of a tenant)
				// must never be moved again, even by a "*" pattern.
				return strings.HasPrefix(k, "tenant:")
			})
			for len(page) > 0 {
				n := min(len(page), r.cfg.BatchSize)
				if err := r.batch(ctx, mover, page[:n], crossSlot); err != nil {
					return err
				}
				page = page[n:]
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

func (r *migration) batch(ctx context.Context, rdb redis.UniversalClient, page []string, crossSlot bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Names the store would refuse are reported without a single command
	// about them reaching Redis.
	var names []string
	var out []outcome
	legacy := make([]string, 0, len(page))
	for _, k := range page {
		if store.ValidKey(storePart(k)) != nil {
			names = append(names, k)
			out = append(out, refused)
			continue
		}
		legacy = append(legacy, k)
	}
	var (
		moves []outcome
		err   error
	)
	switch {
	case len(legacy) == 0:
	case r.cfg.DryRun:
		moves, err = r.classify(ctx, rdb, legacy)
	case crossSlot:
		moves, err = r.moveCrossSlot(ctx, rdb, legacy)
	default:
		moves, err = r.moveScript(ctx, rdb, legacy)
	}
	r.record(append(names, legacy...), append(out, moves...))
	return err
}

// record adds the outcomes of a batch (possibly partial, when it failed
// half-way) to the totals and reports progress.
func (r *migration) record(legacy []string, out []outcome) {
	if len(out) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, o := range out {
		r.res.Scanned++
		switch o {
		case moved:
			r.res.Moved++
		case skipped:
			r.res.Skipped++
		case conflict:
			r.res.Conflicts++
			if len(r.res.ConflictKeys) < maxConflictKeys {
				r.res.ConflictKeys = append(r.res.ConflictKeys, legacy[i])
			}
		case refused:
			r.res.Refused++
			if len(r.res.RefusedKeys) < maxConflictKeys {
				r.res.RefusedKeys = append(r.res.RefusedKeys, legacy[i])
			}
		}
	}
	if r.cfg.Progress != nil {
		snapshot := r.res
		snapshot.ConflictKeys = slices.Clone(r.res.ConflictKeys)
		snapshot.RefusedKeys = slices.Clone(r.res.RefusedKeys)
		r.cfg.Progress(snapshot)
	}
}

// target is where a legacy key goes.
func (r *migration) target(legacy string) string { return Target(r.tenant, legacy) }

// Target returns the name a legacy key moves to in the namespace of the
// tenant tenantID: client:abc becomes tenant:{<tenantID>}:client:abc. A
// conflict is a legacy key whose Target already holds something else.
func Target(tenantID, legacy string) string { return keys.Tenant(tenantID, legacy) }

// kinds are the legacy key kinds that the store reads, each a Redis string
// whose name ends in a part that store.ValidKey checks.
var kinds = []string{"client:", "session:", "rate-limit:"}

// storePart returns the part of a legacy name that the store would check
// with store.ValidKey once the key is moved: the ID or limiter key after
// the kind's prefix, or the whole name for keys of other patterns.
func storePart(legacy string) string {
	for _, kind := range kinds {
		if strings.HasPrefix(legacy, kind) {
			return legacy[len(kind):]
		}
	}
	return legacy
}

// wantType returns the Redis type the store expects of a legacy key, or ""
// when it reads no keys of its kind and any type may move.
func wantType(legacy string) string {
	for _, kind := range kinds {
		if strings.HasPrefix(legacy, kind) {
			return "string"
		}
	}
	return ""
}

// index returns the sorted set a moved key joins and its member there, or
// "" for keys that have no index (rate-limit state). The store counts live
// clients and sessions with these sets, so a moved key that is missing from
// its set would not count against maxClients or maxSessions.
func (r *migration) index(legacy string) (set, member string) {
	switch {
	case strings.HasPrefix(legacy, "client:") && len(legacy) > len("client:"):
		return keys.Clients(r.tenant), legacy[len("client:"):]
	case strings.HasPrefix(legacy, "session:") && len(legacy) > len("session:"):
		return keys.Sessions(r.tenant), legacy[len("session:"):]
	}
	return "", ""
}
