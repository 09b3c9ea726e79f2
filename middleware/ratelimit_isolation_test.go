package middleware

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// limitedTenant returns an active tenant limited to limit requests a minute.
func limitedTenant(id string, limit int) *tenant.Tenant {
	return &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: limit}}
}

// serveAs serves one request of tn through h with the given context.
func serveAs(ctx context.Context, h http.Handler, tn *tenant.Tenant) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/mcp", nil)
	req = req.WithContext(tenant.NewContext(req.Context(), tn))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRateLimitHangUpsLiftNoLimit checks that a request whose context is
// over (the client hung up, or its deadline passed) is not taken for an
// outage of the limiter: before, the store call failed with the request's
// context error, which opened the fail-open breaker for every tenant.
func TestRateLimitHangUpsLiftNoLimit(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	for name, ctx := range map[string]context.Context{"canceled": canceled, "deadline exceeded": expired} {
		t.Run(name, func(t *testing.T) {
			clock := testclock.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
			st := memstore.New(memstore.Options{Clock: clock.Now})
			h := newLimited(t, st, RateLimitConfig{Now: clock.Now})
			victim, hang := limitedTenant("victim", 2), limitedTenant("hang", 1000)
			for range 2 {
				require.Equal(t, http.StatusOK, serveAs(context.Background(), h, victim).Code)
			}
			require.Equal(t, http.StatusTooManyRequests, serveAs(context.Background(), h, victim).Code)

			for range 10 {
				serveAs(ctx, h, hang)
				assert.Equal(t, http.StatusTooManyRequests, serveAs(context.Background(), h, victim).Code,
					"a hang-up of another tenant lifted the limit")
			}
			assert.Equal(t, http.StatusOK, serveAs(ctx, h, hang).Code, "the hang-up's own request is decided as usual")
		})
	}
}

// brokenFor is a store whose limiter fails for one tenant only, as a
// cluster does when the shard of that tenant's slot is down.
type brokenFor struct {
	*memstore.Store
	id string
}

func (b brokenFor) Allow(ctx context.Context, tenantID, key string, limit int) (store.Decision, error) {
	if tenantID == b.id {
		return store.Decision{}, errors.New("dial tcp: connection refused")
	}
	return b.Store.Allow(ctx, tenantID, key, limit)
}

// TestRateLimitOutageOfOneTenantFreesNoOther checks that a limiter failure
// seen by one tenant's requests lets that tenant through and nobody else.
func TestRateLimitOutageOfOneTenantFreesNoOther(t *testing.T) {
	clock := testclock.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	st := brokenFor{memstore.New(memstore.Options{Clock: clock.Now}), "broken"}
	h := newLimited(t, st, RateLimitConfig{Now: clock.Now})
	victim, broken := limitedTenant("victim", 2), limitedTenant("broken", 2)
	for range 2 {
		require.Equal(t, http.StatusOK, serveAs(context.Background(), h, victim).Code)
	}
	for range 5 {
		assert.Equal(t, http.StatusOK, serveAs(context.Background(), h, broken).Code, "fail open for the tenant whose limiter fails")
		assert.Equal(t, http.StatusTooManyRequests, serveAs(context.Background(), h, victim).Code, "and for no other")
	}
}

// newLimited returns echo behind RateLimit on st, with a quiet logger.
func newLimited(t testing.TB, st store.Limiter, cfg RateLimitConfig) http.Handler {
	cfg.Limiter = st
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mw, err := RateLimit(cfg)
	require.NoError(t, err)
	return mw(echo)
}
