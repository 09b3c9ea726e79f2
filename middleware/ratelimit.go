package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// RateLimitConfig configures the [RateLimit] middleware.
type RateLimitConfig struct {
	// Limiter keeps the budgets. Required.
	Limiter store.Limiter
	// Key names the budget within the tenant: every request of a tenant
	// draws from the same one, the tenant's rateLimit.
	// default: "requests"
	Key string
	// Timeout bounds one limiter call; past it the request goes through.
	// The call runs on a context detached from the request, so a client
	// that hangs up never makes it fail.
	// default: 500 milliseconds
	Timeout time.Duration
	// Cooldown is how long a tenant's requests skip the limiter after a
	// call for that tenant failed: during an outage one request of the
	// tenant a Cooldown probes the limiter, and the others go through
	// without waiting for it. Other tenants are not affected.
	// default: 1 second
	Cooldown time.Duration
	// OnRefused is called for every request refused with 429.
	// default: LogRefusal(Logger)
	OnRefused func(*http.Request, Refusal)
	// Logger receives the limiter's failures, at most one line a Cooldown
	// for all tenants together.
	// default: slog.Default()
	Logger *slog.Logger
	// Now is the clock of the cooldowns.
	// default: time.Now
	Now func() time.Time
}

var bodyRateLimited = httpx.ErrorBody("Rate limit exceeded")

// RateLimit returns middleware that charges each request to its tenant's
// budget of Limits.RateLimit requests per minute (the tenant comes from
// [Tenant], which must run first). Every answer for a rate-limited tenant
// carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds
// until the full quota is back); a request over the budget gets 429 with
// Retry-After.
//
// When the limiter fails (Redis unreachable), requests go through and the
// failure is logged: an outage of the limiter must never take tenants down.
// Only a failure of the limiter itself counts: its calls run on a context
// detached from the request, with their own timeout, so a client that hangs
// up changes nothing, and a failure lets through the requests of the tenant
// whose call failed only, never another tenant's.
// A request without a tenant, or whose tenant has no limit, is not limited.
func RateLimit(cfg RateLimitConfig) (func(http.Handler) http.Handler, error) {
	if cfg.Limiter == nil {
		return nil, errors.New("middleware: RateLimitConfig.Limiter is required")
	}
	if cfg.Key == "" {
		cfg.Key = "requests"
	}
	if err := store.ValidKey(cfg.Key); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnRefused == nil {
		cfg.OnRefused = LogRefusal(cfg.Logger)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	br := &breakers{open: map[string]int64{}}
	var nextLog atomic.Int64

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, ok := tenant.FromContext(r.Context())
			if !ok || t.Limits.RateLimit <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			now := cfg.Now().UnixNano()
			if !br.probe(t.ID, now, cfg.Cooldown) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), cfg.Timeout)
			d, err := cfg.Limiter.Allow(ctx, t.ID, cfg.Key, t.Limits.RateLimit)
			cancel()
			if err != nil {
				br.fail(t.ID, now, cfg.Cooldown)
				if last := nextLog.Load(); now >= last && nextLog.CompareAndSwap(last, now+int64(cfg.Cooldown)) {
					cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "tenancy: rate limiter unavailable, letting requests through",
						slog.String("tenant", t.ID), slog.Duration("retry", cfg.Cooldown), slog.String("error", err.Error()))
				}
				next.ServeHTTP(w, r)
				return
			}
			br.close(t.ID)
			h := w.Header()
			h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
			h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
			h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
			if !d.Allowed {
				h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(d.RetryAfter))))
				cfg.OnRefused(r, Refusal{Reason: ReasonRateLimited, Status: http.StatusTooManyRequests, TenantID: t.ID, RemoteAddr: r.RemoteAddr})
				httpx.WriteJSON(w, http.StatusTooManyRequests, bodyRateLimited)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// breakers holds, for each tenant whose limiter calls fail, the time (Unix
// nanoseconds) until which its requests skip the limiter. A tenant is in
// the map only while its calls fail, so the common case is one atomic load.
type breakers struct {
	n    atomic.Int64 // len(open)
	mu   sync.Mutex
	open map[string]int64
}

// probe reports whether a request of the tenant should call the limiter:
// always while it works, and after a failure only for the one request that
// claims the probe once the cooldown is over.
func (b *breakers) probe(id string, now int64, cooldown time.Duration) bool {
	if b.n.Load() == 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.open[id]
	if !ok {
		return true
	}
	if now < until {
		return false
	}
	b.open[id] = now + int64(cooldown)
	return true
}

// fail opens the tenant's breaker for cooldown.
func (b *breakers) fail(id string, now int64, cooldown time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.open[id] = now + int64(cooldown)
	b.n.Store(int64(len(b.open)))
}

// close forgets the tenant's failure after a call that worked.
func (b *breakers) close(id string) {
	if b.n.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.open, id)
	b.n.Store(int64(len(b.open)))
}

// ceilSeconds rounds d up to whole seconds, as the RateLimit and
// Retry-After headers count them.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
