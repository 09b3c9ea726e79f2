package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
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
	// draws from the same one, as DESIGN.md's per-tenant rateLimit says.
	// default: "requests"
	Key string
	// Timeout bounds one limiter call; past it the request goes through.
	// default: 500 milliseconds
	Timeout time.Duration
	// Cooldown is how long requests skip the limiter after a call failed:
	// during an outage one request a Cooldown probes the limiter, and the
	// others go through without waiting for it.
	// default: 1 second
	Cooldown time.Duration
	// OnRefused is called for every request refused with 429.
	// default: LogRefusal(Logger)
	OnRefused func(*http.Request, Refusal)
	// Logger receives the limiter's failures, one line per Cooldown.
	// default: slog.Default()
	Logger *slog.Logger
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
	// openUntil is zero while the limiter works, and otherwise the time
	// (Unix nanoseconds) until which requests skip it.
	var openUntil atomic.Int64

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, ok := tenant.FromContext(r.Context())
			if !ok || t.Limits.RateLimit <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			if !probe(&openUntil, cfg.Cooldown) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), cfg.Timeout)
			d, err := cfg.Limiter.Allow(ctx, t.ID, cfg.Key, t.Limits.RateLimit)
			cancel()
			if err != nil {
				openUntil.Store(time.Now().Add(cfg.Cooldown).UnixNano())
				cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "tenancy: rate limiter unavailable, letting requests through",
					slog.String("tenant", t.ID), slog.Duration("retry", cfg.Cooldown), slog.String("error", err.Error()))
				next.ServeHTTP(w, r)
				return
			}
			openUntil.Store(0)
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

// probe reports whether a request should call the limiter: always while it
// works, and after a failure only for the one request that claims the probe
// once the cooldown is over.
func probe(openUntil *atomic.Int64, cooldown time.Duration) bool {
	until := openUntil.Load()
	if until == 0 {
		return true
	}
	now := time.Now().UnixNano()
	return now >= until && openUntil.CompareAndSwap(until, now+int64(cooldown))
}

// ceilSeconds rounds d up to whole seconds, as the RateLimit and
// Retry-After headers count them.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
