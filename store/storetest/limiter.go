package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testLimiter(t *testing.T, b *Backend) {
	ctx := t.Context()
	// 60 a minute: one request a second, a burst of 60.
	d, err := b.Limiter.Allow(ctx, "acme", "k", 60)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, 60, d.Limit)
	assert.Equal(t, 59, d.Remaining)
	assert.Zero(t, d.RetryAfter)
	within(t, d.Reset, time.Second-slack, time.Second, "reset after one request")

	for i := 58; i >= 0; i-- {
		d, err = b.Limiter.Allow(ctx, "acme", "k", 60)
		require.NoError(t, err)
		require.True(t, d.Allowed, "request %d of the burst", 60-i)
		require.Equal(t, i, d.Remaining)
	}
	within(t, d.Reset, 60*time.Second-slack, 60*time.Second, "reset after the burst")

	d, err = b.Limiter.Allow(ctx, "acme", "k", 60)
	require.NoError(t, err)
	assert.False(t, d.Allowed, "over the burst")
	assert.Equal(t, 60, d.Limit)
	assert.Zero(t, d.Remaining)
	within(t, d.RetryAfter, time.Second-slack, time.Second, "retry after")
	within(t, d.Reset, 60*time.Second-slack, 60*time.Second, "reset when refused")

	b.Advance(d.RetryAfter + 10*time.Millisecond)
	d, err = b.Limiter.Allow(ctx, "acme", "k", 60)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "one request a second comes back")
	assert.Zero(t, d.Remaining)
	d, err = b.Limiter.Allow(ctx, "acme", "k", 60)
	require.NoError(t, err)
	assert.False(t, d.Allowed)

	// 2.5 more seconds give 2 requests back: this one and one more.
	b.Advance(2500 * time.Millisecond)
	d, err = b.Limiter.Allow(ctx, "acme", "k", 60)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, 1, d.Remaining)
	within(t, d.Reset, 57*time.Second, 59*time.Second, "reset after a partial refill")

	d, err = b.Limiter.Allow(ctx, "acme", "k", 0)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "a limit of 0 is no limit")
	assert.Equal(t, 0, d.Limit)
}

func testLimiterFullRefill(t *testing.T, b *Backend) {
	if b.RealTime {
		t.Skip("a full refill takes a minute of real time")
	}
	ctx := t.Context()
	// 5 a minute: one request every 12 seconds, a burst of 5.
	for range 5 {
		d, err := b.Limiter.Allow(ctx, "acme", "k", 5)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	}
	d, err := b.Limiter.Allow(ctx, "acme", "k", 5)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	assert.Equal(t, 12*time.Second, d.RetryAfter)
	assert.Equal(t, time.Minute, d.Reset)

	b.Advance(30 * time.Second)
	d, err = b.Limiter.Allow(ctx, "acme", "k", 5)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, 1, d.Remaining, "30s give back 2.5 requests")
	assert.Equal(t, 42*time.Second, d.Reset)

	b.Advance(d.Reset)
	d, err = b.Limiter.Allow(ctx, "acme", "k", 5)
	require.NoError(t, err)
	assert.True(t, d.Allowed)
	assert.Equal(t, 4, d.Remaining, "the full burst is back after Reset")
	assert.Equal(t, 12*time.Second, d.Reset)
}

func testLimiterIndependence(t *testing.T, b *Backend) {
	ctx := t.Context()
	allow := func(tenantID, key string) bool {
		t.Helper()
		d, err := b.Limiter.Allow(ctx, tenantID, key, 2)
		require.NoError(t, err)
		return d.Allowed
	}
	require.True(t, allow("acme", "k"))
	require.True(t, allow("acme", "k"))
	require.False(t, allow("acme", "k"))

	d, err := b.Limiter.Allow(ctx, "beta", "k", 2)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "another tenant, the same key")
	assert.Equal(t, 1, d.Remaining)
	d, err = b.Limiter.Allow(ctx, "acme", "other", 2)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "the same tenant, another key")
	assert.Equal(t, 1, d.Remaining)
	assert.False(t, allow("acme", "k"), "acme/k is still spent")
}
