package middleware

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// fakeLeaser answers every call with l (Granted at most the want) or err,
// and records the calls.
type fakeLeaser struct {
	mu    sync.Mutex
	l     store.Lease
	err   error
	calls []leaseCall
}

type leaseCall struct {
	tenantKey    string
	want, unused int
}

func (f *fakeLeaser) Lease(_ context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, leaseCall{tenantID + "/" + key, want, unused})
	l := f.l
	l.Limit = limit
	l.Granted = min(l.Granted, want)
	return l, f.err
}

func (f *fakeLeaser) set(l store.Lease, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.l, f.err = l, err
}

func (f *fakeLeaser) calledTimes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func limitedRequest(t *tenant.Tenant) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	if t != nil {
		req = req.WithContext(tenant.NewContext(req.Context(), t))
	}
	return req
}

func TestRateLimitAnswers(t *testing.T) {
	limited := &tenant.Tenant{ID: "acme", Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: 60}}
	unlimited := &tenant.Tenant{ID: "free", Status: tenant.StatusActive}
	tests := []struct {
		name                        string
		tenant                      *tenant.Tenant
		l                           store.Lease
		err                         error
		status                      int
		limit, remaining, reset, ra string
		body                        string
		calls                       int
	}{
		{"allowed", limited, store.Lease{Granted: 1, Decision: store.Decision{Allowed: true, Remaining: 59, Reset: time.Second}}, nil, 200, "60", "59", "1", "", "acme /mcp", 1},
		{"refused", limited, store.Lease{Decision: store.Decision{Remaining: 0, RetryAfter: 300 * time.Millisecond, Reset: time.Minute}}, nil, 429, "60", "0", "60", "1", `{"error":"Rate limit exceeded"}`, 1},
		{"limiter down lets through", limited, store.Lease{}, errors.New("dial tcp: connection refused"), 200, "", "", "", "", "acme /mcp", 1},
		{"tenant without limit", unlimited, store.Lease{}, nil, 200, "", "", "", "", "free /mcp", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := &fakeLeaser{l: tt.l, err: tt.err}
			var refused []Refusal
			mw, err := RateLimit(RateLimitConfig{Leaser: lim, Logger: slog.New(slog.DiscardHandler),
				OnRefused: func(_ *http.Request, f Refusal) { refused = append(refused, f) }})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			mw(echo).ServeHTTP(rec, limitedRequest(tt.tenant))
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, tt.body, rec.Body.String())
			assert.Equal(t, tt.limit, rec.Header().Get("RateLimit-Limit"))
			assert.Equal(t, tt.remaining, rec.Header().Get("RateLimit-Remaining"))
			assert.Equal(t, tt.reset, rec.Header().Get("RateLimit-Reset"))
			assert.Equal(t, tt.ra, rec.Header().Get("Retry-After"))
			assert.Len(t, lim.calls, tt.calls)
			if tt.status == 429 {
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				require.Len(t, refused, 1)
				assert.Equal(t, ReasonRateLimited, refused[0].Reason)
				assert.Equal(t, "acme", refused[0].TenantID)
			} else {
				assert.Empty(t, refused)
			}
			if tt.calls > 0 {
				assert.Equal(t, leaseCall{"acme/requests", 1, 0}, lim.calls[0], "the first lease is one request")
			}
		})
	}
}

func TestRateLimitSkipsFailingLimiterDuringCooldown(t *testing.T) {
	var buf bytes.Buffer
	clock := newFakeClock()
	lim := &fakeLeaser{err: errors.New("dial tcp: connection refused")}
	mw, err := RateLimit(RateLimitConfig{Leaser: lim, Cooldown: time.Second, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	limited := &tenant.Tenant{ID: "acme", Limits: tenant.Limits{RateLimit: 10}}
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mw(echo).ServeHTTP(rec, limitedRequest(limited))
		require.Equal(t, 200, rec.Code)
		return rec
	}
	for range 100 {
		assert.Empty(t, serve().Header().Get("RateLimit-Limit"), "let through without a decision")
	}
	assert.Equal(t, 1, lim.calledTimes(), "after a failure, requests skip the limiter")
	assert.Equal(t, 1, strings.Count(buf.String(), "rate limiter unavailable"))

	clock.Advance(1100 * time.Millisecond)
	lim.set(store.Lease{Granted: 1, Decision: store.Decision{Allowed: true, Remaining: 9, Reset: 6 * time.Second}}, nil)
	assert.Equal(t, "9", serve().Header().Get("RateLimit-Remaining"), "after the cooldown one request probes")
	serve()
	assert.Equal(t, 3, lim.calledTimes(), "once it works, every request of a limit this small is charged")
}

func TestRateLimitConfigErrors(t *testing.T) {
	_, err := RateLimit(RateLimitConfig{})
	assert.Error(t, err)
	_, err = RateLimit(RateLimitConfig{Leaser: &fakeLeaser{}, Key: "a b{c}"})
	assert.ErrorIs(t, err, store.ErrInvalidKey)
}
