package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
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

// leaser returns the backend's Limiter as a [store.Leaser], failing the
// test when it is not one: the rate limit middleware needs leases.
func leaser(t *testing.T, b *Backend) store.Leaser {
	t.Helper()
	l, ok := b.Limiter.(store.Leaser)
	if !ok {
		t.Fatalf("storetest: the Limiter %T does not implement store.Leaser", b.Limiter)
	}
	return l
}

func testLease(t *testing.T, b *Backend) {
	ctx := t.Context()
	l := leaser(t, b)
	lease := func(want, unused int) store.Lease {
		t.Helper()
		got, err := l.Lease(ctx, "acme", "k", 60, want, unused)
		require.NoError(t, err)
		assert.Equal(t, 60, got.Limit)
		return got
	}
	// 60 a minute: one request a second, a burst of 60.
	got := lease(10, 0)
	assert.Equal(t, 10, got.Granted)
	assert.True(t, got.Allowed)
	assert.Equal(t, 50, got.Remaining)
	assert.Zero(t, got.RetryAfter)
	within(t, got.Reset, 10*time.Second-slack, 10*time.Second, "reset after a lease of 10")

	got = lease(100, 0)
	assert.Equal(t, 50, got.Granted, "no more than the budget holds")
	assert.Zero(t, got.Remaining)
	within(t, got.Reset, 60*time.Second-slack, 60*time.Second, "reset with the budget spent")

	got = lease(5, 0)
	assert.Zero(t, got.Granted)
	assert.False(t, got.Allowed)
	assert.Zero(t, got.Remaining)
	within(t, got.RetryAfter, time.Second-slack, time.Second, "retry after")
	within(t, got.Reset, 60*time.Second-slack, 60*time.Second, "reset when nothing is granted")

	got = lease(0, 20)
	assert.Zero(t, got.Granted, "giving back only")
	assert.Zero(t, got.RetryAfter)
	assert.Equal(t, 20, got.Remaining, "what is given back can be taken again")
	within(t, got.Reset, 40*time.Second-slack, 40*time.Second, "reset after giving back 20")

	d, err := b.Limiter.Allow(ctx, "acme", "k", 60)
	require.NoError(t, err)
	assert.True(t, d.Allowed, "Allow draws from the budget the leases draw from")
	assert.Equal(t, 19, d.Remaining)

	got = lease(5, 3)
	assert.Equal(t, 5, got.Granted, "giving back and taking in one call")
	assert.Equal(t, 17, got.Remaining)

	got = lease(0, 1000)
	assert.Equal(t, 60, got.Remaining, "giving back more than was taken never exceeds the burst")
	assert.Zero(t, got.Reset)
	got = lease(60, 0)
	assert.Equal(t, 60, got.Granted)
	assert.Zero(t, got.Remaining)

	// Time gives requests back: 2.5 seconds, two of them (on a real clock
	// a loaded machine may take another half second to get there).
	b.Advance(2500 * time.Millisecond)
	got = lease(10, 0)
	if b.RealTime {
		assert.Contains(t, []int{2, 3}, got.Granted, "the refill since the budget was spent")
	} else {
		assert.Equal(t, 2, got.Granted, "the refill since the budget was spent")
	}
	assert.Zero(t, got.Remaining)
}

func testLeaseArguments(t *testing.T, b *Backend) {
	ctx := t.Context()
	l := leaser(t, b)
	got, err := l.Lease(ctx, "acme", "k", 0, 7, 0)
	require.NoError(t, err)
	assert.Equal(t, 7, got.Granted, "a limit of 0 is no limit")
	assert.True(t, got.Allowed)

	got, err = l.Lease(ctx, "acme", "k", 10, 0, 0)
	require.NoError(t, err)
	assert.Zero(t, got.Granted, "asking for nothing")
	assert.False(t, got.Allowed)
	assert.Equal(t, 10, got.Remaining, "and taking nothing")

	for _, args := range [][2]int{{-1, 0}, {1, -1}} {
		_, err = l.Lease(ctx, "acme", "k", 10, args[0], args[1])
		assert.ErrorIs(t, err, store.ErrInvalidCount, "want %d, unused %d", args[0], args[1])
	}
	_, err = l.Lease(ctx, "Bad!", "k", 10, 1, 0)
	assert.ErrorIs(t, err, tenant.ErrInvalidID)
	_, err = l.Lease(ctx, "acme", "a b", 10, 1, 0)
	assert.ErrorIs(t, err, store.ErrInvalidKey)

	// Leases are per tenant and per key.
	got, err = l.Lease(ctx, "acme", "k", 2, 2, 0)
	require.NoError(t, err)
	require.Equal(t, 2, got.Granted)
	for _, tk := range [][2]string{{"beta", "k"}, {"acme", "other"}} {
		got, err = l.Lease(ctx, tk[0], tk[1], 2, 2, 0)
		require.NoError(t, err)
		assert.Equal(t, 2, got.Granted, "%s/%s has a budget of its own", tk[0], tk[1])
	}
	got, err = l.Lease(ctx, "acme", "k", 2, 1, 0)
	require.NoError(t, err)
	assert.Zero(t, got.Granted, "acme/k is still spent")
}
