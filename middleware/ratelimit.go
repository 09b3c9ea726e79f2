package middleware

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// RateLimitConfig configures the [RateLimit] middleware. Only Leaser is
// required; every other field has a default.
type RateLimitConfig struct {
	// Leaser keeps the budgets and hands them out in leases; both stores
	// of this module are one. Required.
	Leaser store.Leaser
	// Key names the budget within the tenant: every request of a tenant
	// draws from the same one, the tenant's rateLimit.
	// default: "requests"
	Key string
	// LeaseTTL is how long a lease may be spent. What is left of it then
	// lapses, and goes back to the store with the replica's next lease of
	// the tenant. Leases are sized to last about nine tenths of it, so a
	// tenant costs the store about one call per LeaseTTL and replica.
	// default: 2 seconds
	LeaseTTL time.Duration
	// MaxLease bounds each lease to that much of the tenant's budget:
	// limit × MaxLease / 1 minute requests, and at least one. A tenant
	// whose limit makes that one (under 20 a minute with the default) is
	// limited exactly, with one store round trip per request.
	// default: 3 seconds
	MaxLease time.Duration
	// Timeout bounds one store call; past it the call has failed. The call
	// runs on a context detached from the request, so a client that hangs
	// up never makes it fail.
	// default: 500 milliseconds
	Timeout time.Duration
	// Cooldown is how long a tenant's requests skip the store after a
	// call for that tenant failed: during an outage one request of the
	// tenant a Cooldown probes the store, and the others go through
	// without waiting for it. Other tenants are not affected.
	// default: 1 second
	Cooldown time.Duration
	// OnRefused is called for every request refused with 429.
	// default: LogRefusal(Logger)
	OnRefused func(*http.Request, Refusal)
	// Logger receives the store's failures, at most one line a Cooldown
	// for all tenants together.
	// default: slog.Default()
	Logger *slog.Logger
	// Now is the clock of leases and cooldowns.
	// default: time.Now
	Now func() time.Time
}

func (cfg *RateLimitConfig) setDefaults() error {
	if cfg.Leaser == nil {
		return errors.New("middleware: RateLimitConfig.Leaser is required")
	}
	if cfg.Key == "" {
		cfg.Key = "requests"
	}
	if err := store.ValidKey(cfg.Key); err != nil {
		return err
	}
	conf.Default(&cfg.LeaseTTL, 2*time.Second)
	conf.Default(&cfg.MaxLease, 3*time.Second)
	conf.Default(&cfg.Timeout, 500*time.Millisecond)
	conf.Default(&cfg.Cooldown, time.Second)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.OnRefused == nil {
		cfg.OnRefused = LogRefusal(cfg.Logger)
	}
	// A nil Now stays nil: the leases then read the monotonic clock
	// directly, which is cheaper than calling time.Now.
	return nil
}

var bodyRateLimited = httpx.ErrorBody("Rate limit exceeded")

// The canonical names of the headers, set directly in the header map.
const (
	hdrLimit      = "Ratelimit-Limit"
	hdrRemaining  = "Ratelimit-Remaining"
	hdrReset      = "Ratelimit-Reset"
	hdrRetryAfter = "Retry-After"
)

// RateLimit returns middleware that charges each request to its tenant's
// budget of Limits.RateLimit requests per minute, with a burst of as many
// (the tenant comes from [Tenant], which must run first). Every answer for
// a rate-limited tenant carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (seconds until the full quota is back); a request over
// the budget gets 429 with Retry-After. A request without a tenant, or
// whose tenant has no limit, is not limited.
//
// # Leases
//
// The budget is kept in the store, shared by every replica, but a replica
// does not ask the store for each request: it takes a lease, a share of
// the tenant's budget, in one round trip, and admits requests from it in
// memory. Leases follow the rate at which the replica spends them, from
// one request up to MaxLease's worth of the budget, each sized to last
// about nine tenths of LeaseTTL: a tenant costs the store about one call
// per LeaseTTL and replica, so at a steady rate of 11 requests a second or
// more per replica about one request in twenty reaches the store, and
// fewer the busier the tenant. A lease lapses after LeaseTTL; its unspent
// part goes back with the replica's next lease. The requests of a tenant
// that need the store at the same time share one call.
//
// The bound: in any interval, a tenant gets at most what its limit allows
// in that interval (the burst, plus one request per minute/limit) plus
// the leases outstanding at its start, at most one per replica and each
// at most MaxLease's worth of the budget (limit × 3 / 60 requests with the
// default). Limits under 20 a minute are exact with the default.
//
// The headers are the budget as this replica sees it: as the store
// answered at its last lease, less what it has spent since. With one
// replica they are exact; with several, RateLimit-Remaining does not yet
// count what the other replicas admitted since this one's last lease, at
// most LeaseTTL ago. Retry-After is when this replica will ask the store
// again; after a refusal it waits until half a lease has come back, so
// that a tenant far over its limit costs the store one call per half
// lease.
//
// # Failures
//
// When the store fails (Redis unreachable), requests go through and the
// failure is logged: an outage of the limiter must never take tenants
// down. Only a failure of the store itself counts: its calls run on a
// context detached from the request, with their own timeout, so a client
// that hangs up changes nothing; a failure lets through only the requests
// of the tenant whose call failed, never another tenant's; and since one
// call serves all of a tenant's requests, no tenant's traffic can fill the
// store's connection pool for the others.
func RateLimit(cfg RateLimitConfig) (func(http.Handler) http.Handler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	l := newLeases(cfg)

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, ok := tenant.FromContext(r.Context())
			if !ok || t.Limits.RateLimit <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			var a answer
			l.take(r.Context(), t.ID, t.Limits.RateLimit, &a)
			if a.verdict == verdictPass {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h[hdrLimit] = a.limit
			h[hdrRemaining] = a.remaining
			h[hdrReset] = intHeader(a.reset)
			if a.verdict == verdictRefuse {
				h[hdrRetryAfter] = intHeader(a.retryAfter)
				cfg.OnRefused(r, Refusal{Reason: ReasonRateLimited, Status: http.StatusTooManyRequests, TenantID: t.ID, RemoteAddr: r.RemoteAddr})
				httpx.WriteJSON(w, http.StatusTooManyRequests, bodyRateLimited)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// smallInts holds the header values of 0 to 999, shared by every answer
// (handlers must not modify header values in place), so that the headers
// of most answers cost no allocation: RateLimit-Reset is at most 60, and
// most budgets hold fewer than a thousand requests.
var smallInts = func() [][]string {
	v := make([][]string, 1000)
	for i := range v {
		v[i] = []string{strconv.Itoa(i)}
	}
	return v
}()

// intHeader returns the header value of n >= 0.
func intHeader(n int) []string {
	if n >= 0 && n < len(smallInts) {
		return smallInts[n]
	}
	return []string{strconv.Itoa(n)}
}
