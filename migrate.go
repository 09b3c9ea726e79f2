package tenancy

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/migrate"
)

// DefaultMigratePatterns are the SCAN patterns of the keys a single-tenant
// deployment wrote: registered clients, sessions and rate-limit state.
var DefaultMigratePatterns = []string{"client:*", "session:*", "rate-limit:*"}

// MigrateOptions configure [Migrate]. The zero value moves the keys of
// [DefaultMigratePatterns] into tenant "default".
type MigrateOptions struct {
	// Patterns are the SCAN MATCH patterns of the legacy keys. Keys under
	// "tenant:" are never moved, whatever the pattern. Patterns should not
	// overlap: a key matched twice is counted as skipped the second time.
	// default: DefaultMigratePatterns
	Patterns []string
	// TenantID is the tenant the keys move to.
	// default: "default" (tenant.DefaultID)
	TenantID string
	// BatchSize is the number of keys per SCAN page and per pipeline, at
	// most 10000. Smaller batches keep other clients' latency lower.
	// default: 500
	BatchSize int
	// DryRun only counts what a run would do; nothing is written.
	DryRun bool
	// Progress, when set, is called after every batch with the running
	// totals. Calls never overlap.
	Progress func(MigrateResult)
}

// MigrateResult counts what [Migrate] did. Every legacy key found is counted
// in exactly one of Moved, Skipped, Conflicts and Refused.
type MigrateResult struct {
	// DryRun reports whether nothing was written.
	DryRun bool
	// Scanned is the number of legacy keys found.
	Scanned int64
	// Moved is the number of keys moved (in a dry run: that would move).
	Moved int64
	// Skipped counts keys that needed no move: their target already held
	// the same content (a run interrupted after copying them; the leftover
	// legacy key is removed), or they expired, were deleted or changed
	// while being moved (a changed key stays for the next run).
	Skipped int64
	// Conflicts counts legacy keys whose target exists with different
	// content. Both are left in place: an operator decides which to keep.
	Conflicts int64
	// ConflictKeys lists the legacy names of the first 100 conflicts.
	ConflictKeys []string
	// Refused counts legacy keys the store would not accept: a name whose
	// part the store reads (the ID of client:<id> and session:<id>, the
	// key of rate-limit:<key>, the whole name under other patterns) that
	// store.ValidKey refuses, such as one with a hash tag, bytes outside
	// printable ASCII or more than 256 bytes; or a client, session or
	// rate-limit key that is not a Redis string. They are left in place,
	// never moved nor indexed, so they never count against maxClients or
	// maxSessions.
	Refused int64
	// RefusedKeys lists the legacy names of the first 100 refused keys.
	// They are raw bytes from Redis: quote them (%q) before printing.
	RefusedKeys []string
}

// String summarises the result in one line; a run that found nothing says
// so ("nothing to migrate, moved 0").
func (r MigrateResult) String() string { return r.internal().String() }

func (r MigrateResult) internal() migrate.Result {
	return migrate.Result(r)
}

// Migrate moves the keys of a single-tenant deployment into a tenant's
// namespace: client:abc becomes tenant:{default}:client:abc, with its TTL,
// and joins the tenant's index of clients (sessions likewise), so the
// tenant's limits count it. It is the second step of moving a deployment
// to multi-tenant mode, after running it in single-tenant mode, where
// every request already belongs to tenant "default".
//
// Migrate uses SCAN, never KEYS, and on a *redis.ClusterClient scans every
// master. An existing target is never overwritten: a legacy key whose
// target holds something else is a conflict, left in place and counted; so
// is a legacy key the store would refuse (see MigrateResult.Refused). The
// migration is idempotent and resumable: a second run moves nothing, and a
// run stopped at any point (ctx cancelled, a crash, a lost connection)
// followed by another run moves every key exactly once.
//
// On a single node each key moves with one atomic script (RENAME when the
// target is free). On a cluster the two names hash to different slots, so
// each key is copied with DUMP and RESTORE (without REPLACE), indexed, and
// removed with UNLINK only while it still holds what was copied. A client
// without a TTL is indexed with the score +inf: it never expires, so it
// counts against maxClients until it is deleted.
//
// On error the totals so far are returned with it.
func Migrate(ctx context.Context, rdb redis.UniversalClient, opts MigrateOptions) (MigrateResult, error) {
	in := migrate.Options{
		Patterns:  opts.Patterns,
		TenantID:  opts.TenantID,
		BatchSize: opts.BatchSize,
		DryRun:    opts.DryRun,
	}
	if opts.Progress != nil {
		in.Progress = func(r migrate.Result) { opts.Progress(MigrateResult(r)) }
	}
	res, err := migrate.Run(ctx, rdb, in)
	return MigrateResult(res), err
}
