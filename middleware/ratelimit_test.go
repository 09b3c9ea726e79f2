package middleware

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// fakeLimiter answers every call with d or err and records the calls.
type fakeLimiter struct {
	d     store.Decision
	err   error
	calls []string
}

func (f *fakeLimiter) Allow(_ context.Context, tenantID, key string, limit int) (store.Decision, error) {
	f.calls = append(f.calls, tenantID+"/"+key)
	d := f.d
	d.Limit = limit
	return d, f.err
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
		d                           store.Decision
		err                         error
		status                      int
		limit, remaining, reset, ra string
		body                        string
		calls                       int
	}{
		{"allowed", limited, store.Decision{Allowed: true, Remaining: 59, Reset: 1500 * time.Millisecond}, nil, 200, "60", "59", "2", "", "acme /mcp", 1},
		{"refused", limited, store.Decision{Remaining: 0, RetryAfter: 300 * time.Millisecond, Reset: time.Minute}, nil, 429, "60", "0", "60", "1", `{"error":"Rate limit exceeded"}`, 1},
		{"limiter down lets through", limited, store.Decision{}, errors.New("dial tcp: connection refused"), 200, "", "", "", "", "acme /mcp", 1},
		{"tenant without limit", unlimited, store.Decision{}, nil, 200, "", "", "", "", "free /mcp", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := &fakeLimiter{d: tt.d, err: tt.err}
			var refused []Refusal
			mw, err := RateLimit(RateLimitConfig{Limiter: lim, Logger: slog.New(slog.DiscardHandler),
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
				assert.Equal(t, "acme/requests", lim.calls[0])
			}
		})
	}
}

func TestRateLimitSkipsFailingLimiterDuringCooldown(t *testing.T) {
	var buf bytes.Buffer
	lim := &fakeLimiter{err: errors.New("dial tcp: connection refused")}
	mw, err := RateLimit(RateLimitConfig{Limiter: lim, Cooldown: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	limited := &tenant.Tenant{ID: "acme", Limits: tenant.Limits{RateLimit: 10}}
	serve := func() {
		rec := httptest.NewRecorder()
		mw(echo).ServeHTTP(rec, limitedRequest(limited))
		require.Equal(t, 200, rec.Code)
	}
	for range 100 {
		serve()
	}
	assert.Len(t, lim.calls, 1, "after a failure, requests skip the limiter")
	assert.Equal(t, 1, strings.Count(buf.String(), "rate limiter unavailable"))

	time.Sleep(60 * time.Millisecond)
	lim.err = nil
	lim.d = store.Decision{Allowed: true, Remaining: 9}
	serve()
	serve()
	assert.Len(t, lim.calls, 3, "after the cooldown one request probes; once it works, every request is charged")
}

func TestRateLimitConfigErrors(t *testing.T) {
	_, err := RateLimit(RateLimitConfig{})
	assert.Error(t, err)
	_, err = RateLimit(RateLimitConfig{Limiter: &fakeLimiter{}, Key: "a b{c}"})
	assert.ErrorIs(t, err, store.ErrInvalidKey)
}
