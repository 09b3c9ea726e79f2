package middleware

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/tenant"
)

// TenantConfig configures the [Tenant] middleware.
type TenantConfig struct {
	// Resolver finds the tenant identifier of a request. Required.
	Resolver resolve.Resolver
	// Cache validates tenants. Required unless Tenants is set.
	Cache *Cache
	// Tenants is the store the middleware builds a cache in front of, with
	// the zero CacheConfig, when Cache is nil.
	Tenants Getter
	// OnRefused is called for every refused request, for auditing.
	// default: LogRefusal(slog.Default())
	OnRefused func(*http.Request, Refusal)
	// OnServed is called for every request that gets through, with its
	// tenant, before the next handler runs: the place to count requests per
	// tenant for metrics or billing. It must be fast and must not keep r.
	// default: nil
	OnServed func(*http.Request, *tenant.Tenant)
	// RetryAfter is the Retry-After of a 503 answer.
	// default: 5 seconds
	RetryAfter time.Duration
}

// The refusals [Tenant] documents, computed once: every refusal of a kind
// is the same bytes.
var (
	bodyMissing     = httpx.ErrorBody("Missing tenant identifier")
	bodyInvalid     = httpx.ErrorBody("Invalid tenant identifier")
	bodyNotFound    = httpx.ErrorBody("Tenant not found or inactive")
	bodyUnavailable = httpx.ErrorBody("Tenant service unavailable")
)

// Tenant returns middleware that resolves the tenant of each request with
// cfg.Resolver, validates it through the cache, and serves the request with
// the tenant in its context ([tenant.FromContext]). When the resolver
// implements [resolve.Rewriter] (path mode), the next handler sees the path
// without the tenant segment.
//
// Refusals, as JSON {"error":…}:
//
//	no identifier                        400 Missing tenant identifier
//	malformed identifier                 400 Invalid tenant identifier
//	unknown, suspended or deleted tenant 404 Tenant not found or inactive
//	store unreachable, nothing cached    503 Tenant service unavailable (Retry-After)
//
// The 404 is the same bytes and headers whether the tenant is unknown or
// suspended, so the answer tells nothing about which tenants exist.
func Tenant(cfg TenantConfig) (func(http.Handler) http.Handler, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("middleware: TenantConfig.Resolver is required")
	}
	if cfg.Cache == nil {
		if cfg.Tenants == nil {
			return nil, errors.New("middleware: TenantConfig needs a Cache or Tenants")
		}
		cfg.Cache = NewCache(cfg.Tenants, CacheConfig{})
	}
	if cfg.OnRefused == nil {
		cfg.OnRefused = LogRefusal(nil)
	}
	conf.Default(&cfg.RetryAfter, 5*time.Second)
	retryAfter := []string{strconv.Itoa(httpx.CeilSeconds(cfg.RetryAfter))}
	rewriter, _ := cfg.Resolver.(resolve.Rewriter)

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := cfg.Resolver.Resolve(r)
			if err != nil {
				refuseResolve(w, r, &cfg, retryAfter, err)
				return
			}
			t, err := cfg.Cache.Get(r.Context(), id)
			switch {
			case err == nil:
			case errors.Is(err, tenant.ErrNotFound):
				// Unknown and inactive tenants take this one path; only
				// the audit hook learns which it was.
				reason := ReasonNotFound
				if err == ErrInactive {
					reason = ReasonSuspended
				}
				refuse(w, r, &cfg, Refusal{Reason: reason, Status: http.StatusNotFound, TenantID: id}, bodyNotFound)
				return
			default:
				w.Header()["Retry-After"] = retryAfter
				refuse(w, r, &cfg, Refusal{Reason: unavailable(r), Status: http.StatusServiceUnavailable, TenantID: id, Err: err}, bodyUnavailable)
				return
			}
			if rewriter != nil {
				r = rewriter.Rewrite(r, id)
			}
			r = r.WithContext(tenant.NewContext(r.Context(), t))
			if cfg.OnServed != nil {
				cfg.OnServed(r, t)
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// refuseResolve answers a request whose identifier could not be resolved.
func refuseResolve(w http.ResponseWriter, r *http.Request, cfg *TenantConfig, retryAfter []string, err error) {
	switch {
	case errors.Is(err, tenant.ErrMissingID):
		refuse(w, r, cfg, Refusal{Reason: ReasonMissing, Status: http.StatusBadRequest}, bodyMissing)
	case errors.Is(err, tenant.ErrInvalidID):
		f := Refusal{Reason: ReasonInvalid, Status: http.StatusBadRequest, Err: err}
		if ie := (*resolve.InvalidError)(nil); errors.As(err, &ie) {
			f.Identifier = ie.Identifier
			if len(f.Identifier) > MaxIdentifierLog {
				f.Identifier = f.Identifier[:MaxIdentifierLog]
			}
		}
		refuse(w, r, cfg, f, bodyInvalid)
	default:
		// A resolver that looks hosts up (custom domains) failed to reach
		// its store.
		w.Header()["Retry-After"] = retryAfter
		refuse(w, r, cfg, Refusal{Reason: unavailable(r), Status: http.StatusServiceUnavailable, Err: err}, bodyUnavailable)
	}
}

// unavailable is the reason of a 503: ReasonHungUp when the client
// canceled the request while its tenant was being read, else
// ReasonUnavailable. A deadline that ran out is the store's slowness,
// not a hang-up.
func unavailable(r *http.Request) Reason {
	if errors.Is(r.Context().Err(), context.Canceled) {
		return ReasonHungUp
	}
	return ReasonUnavailable
}

func refuse(w http.ResponseWriter, r *http.Request, cfg *TenantConfig, f Refusal, body []byte) {
	f.RemoteAddr = r.RemoteAddr
	cfg.OnRefused(r, f)
	httpx.WriteJSON(w, f.Status, body)
}
