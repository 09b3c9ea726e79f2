package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/examples/internal/redisurl"
	"github.com/seedmcp/tenancy/migrate"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// Exit statuses.
const (
	exitOK       = 0
	exitConflict = 1
	exitFailure  = 2
	// exitRefused: no conflict, but keys the store would refuse were left
	// in place.
	exitRefused = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, with its environment passed in so that tests
// can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "only count what would move; write nothing")
	batch := fs.Int("batch", migrate.DefaultBatchSize, fmt.Sprintf("keys per SCAN page and per pipeline (1-%d)", migrate.MaxBatchSize))
	patterns := fs.String("patterns", strings.Join(migrate.DefaultPatterns(), ","), "comma-separated SCAN patterns of the legacy keys")
	tenantID := fs.String("tenant", tenant.DefaultID, "tenant the keys move to; one other than default must exist already")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	reindex := fs.Bool("reindex", false, "instead of migrating, bring the store's lists (inactive tenants, custom domains, OIDC issuer and audience claims) in step with the tenant records: once after an upgrade; names the records that do not decode and the stale claims")
	releaseStale := fs.Bool("release-stale-claims", false, "instead of migrating, delete the stale claims -reindex names (domains and issuer and audience pairs naming a tenant whose record does not hold them), each stale at two checks -release-pause apart")
	releasePause := fs.Duration("release-pause", redisstore.DefaultStaleClaimPause, "with -release-stale-claims, the pause between the two checks of a claim: longer than any tenant write may take")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: REDIS_URL=redis://host:port migrate [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitFailure
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "migrate: unexpected argument %q\n", fs.Arg(0))
		return exitFailure
	}
	if *reindex && *releaseStale {
		fmt.Fprintln(stderr, "migrate: -reindex and -release-stale-claims are separate runs: release first, then reindex")
		return exitFailure
	}
	if *releasePause <= 0 {
		fmt.Fprintln(stderr, "migrate: -release-pause must be positive")
		return exitFailure
	}

	url := getenv("REDIS_URL")
	if url == "" {
		fmt.Fprintln(stderr, "migrate: REDIS_URL is not set (redis://host:port, or several comma-separated addresses for a cluster)")
		return exitFailure
	}
	opts, err := redisurl.Parse(url)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return exitFailure
	}
	rdb, err := redisurl.NewClient(url)
	if err != nil {
		fmt.Fprintln(stderr, "migrate:", err)
		return exitFailure
	}
	defer rdb.Close()

	if *reindex {
		return runReindex(ctx, rdb, opts, stdout, stderr)
	}
	if *releaseStale {
		return runReleaseStale(ctx, rdb, opts, *releasePause, stdout, stderr)
	}

	bar := newProgress(stderr, *quiet)
	mode := ""
	if *dryRun {
		mode = " (dry run: nothing is written)"
	}
	bar.printf("migrating legacy keys on %s into tenant %q%s\n", redisurl.Describe(opts), *tenantID, mode)
	res, err := migrate.Run(ctx, rdb, migrate.Config{
		Patterns:  splitList(*patterns),
		TenantID:  *tenantID,
		BatchSize: *batch,
		DryRun:    *dryRun,
		Progress:  bar.update,
	})
	bar.done()

	fmt.Fprintln(stdout, res)
	// Key names are whatever bytes a legacy deployment (or anyone who could
	// write to its Redis) put there: quoted, they cannot clear the screen
	// or forge a line of this output.
	for _, k := range res.ConflictKeys {
		fmt.Fprintf(stderr, "conflict: %q: %q already exists with other content; both left in place\n", k, migrate.Target(*tenantID, k))
	}
	if n := int64(len(res.ConflictKeys)); res.Conflicts > n {
		fmt.Fprintf(stderr, "conflict: … and %d more\n", res.Conflicts-n)
	}
	for _, k := range res.RefusedKeys {
		fmt.Fprintf(stderr, "refused: %q: a name or type the store does not accept; left in place, not moved\n", k)
	}
	if n := int64(len(res.RefusedKeys)); res.Refused > n {
		fmt.Fprintf(stderr, "refused: … and %d more\n", res.Refused-n)
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "migrate: interrupted; run again to finish, nothing is lost")
		return exitFailure
	case err != nil:
		fmt.Fprintln(stderr, "migrate:", err)
		fmt.Fprintln(stderr, "migrate: run again to finish; keys already moved stay moved")
		return exitFailure
	case res.Conflicts > 0:
		return exitConflict
	case res.Refused > 0:
		return exitRefused
	}
	return exitOK
}

// runReindex runs redisstore's Reindex: the store's lists of inactive
// tenants and custom domains and its claims of OIDC issuers and audiences,
// kept by Create, Update and Delete, are brought in step with the records
// written by a version that did not keep them. What an operator must look
// at is named, one line each, and exits 1: tenants that share an issuer and
// audience with another, records that do not decode, and stale claims.
func runReindex(ctx context.Context, rdb redis.UniversalClient, opts redisurl.Options, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "reindexing the tenants on %s\n", redisurl.Describe(opts))
	err := redisstore.New(rdb, redisstore.Config{}).Tenants().Reindex(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "migrate: interrupted; run -reindex again, it only adds what is missing")
		return exitFailure
	case err == nil:
		fmt.Fprintln(stdout, "reindexed: every tenant's status, custom domain and issuer and audience are listed")
		return exitOK
	}
	// Joined errors, each naming a tenant; anything else is a failure.
	problems := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		problems = j.Unwrap()
	}
	var shared, undecodable, stale int
	for _, p := range problems {
		switch {
		case errors.Is(p, store.ErrIssuerAudienceExists):
			shared++
			fmt.Fprintf(stderr, "shared: %q\n", p.Error())
		case errors.Is(p, redisstore.ErrUndecodable):
			undecodable++
			fmt.Fprintf(stderr, "undecodable: %q\n", p.Error())
		case errors.Is(p, redisstore.ErrStaleClaim):
			stale++
			fmt.Fprintf(stderr, "stale claim: %q\n", p.Error())
		default:
			fmt.Fprintln(stderr, "migrate:", err)
			return exitFailure
		}
	}
	if shared > 0 {
		fmt.Fprintln(stderr, "migrate: the tenants above share an OIDC issuer and audience with another tenant; change one of each pair through the admin API and run -reindex again")
	}
	if undecodable > 0 {
		fmt.Fprintln(stderr, "migrate: the tenant records above do not decode and were not reindexed; fix or delete them and run -reindex again")
	}
	if stale > 0 {
		fmt.Fprintln(stderr, "migrate: the claims above name a tenant whose record does not hold them and keep other tenants from their domain or issuer and audience; a claim without record may also be a tenant being created right now; run -release-stale-claims to delete those still stale after a pause, then -reindex again")
	}
	return exitConflict
}

// runReleaseStale runs redisstore's ReleaseStaleClaims with the given
// pause and names each claim it deleted on stdout.
func runReleaseStale(ctx context.Context, rdb redis.UniversalClient, opts redisurl.Options, pause time.Duration, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "releasing the stale claims on %s (two checks %v apart)\n", redisurl.Describe(opts), pause)
	released, err := redisstore.New(rdb, redisstore.Config{}).Tenants().ReleaseStaleClaims(ctx, pause)
	for _, key := range released {
		fmt.Fprintf(stdout, "released: %q\n", key)
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "migrate: interrupted; run -release-stale-claims again")
		return exitFailure
	case err != nil:
		fmt.Fprintln(stderr, "migrate:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "released %d stale claims\n", len(released))
	return exitOK
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// progress redraws one status line on stderr, at most every 100 ms, so
// that a run over millions of keys does not spend its time printing.
type progress struct {
	w     io.Writer
	quiet bool
	start time.Time

	mu   sync.Mutex
	last time.Time
	drew bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, quiet: quiet, start: time.Now()}
}

func (p *progress) printf(format string, args ...any) {
	if !p.quiet {
		fmt.Fprintf(p.w, format, args...)
	}
}

func (p *progress) update(r migrate.Result) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	p.drew = true
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(r.Scanned) / elapsed
	}
	fmt.Fprintf(p.w, "\r%d scanned  %d moved  %d skipped  %d conflicts  %d refused  (%.0f keys/s)   ",
		r.Scanned, r.Moved, r.Skipped, r.Conflicts, r.Refused, rate)
}

// done ends the status line so that what follows starts on its own line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew {
		fmt.Fprintln(p.w)
	}
}
