package middleware

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store/memstore"
)

// TestLeaseCallsByRate counts the store calls per request of one tenant
// at steady rates, with the default LeaseTTL and MaxLease: a lease covers
// nine tenths of its 2 s lifetime of what the replica spends, so a tenant
// costs about one store call per 1.8 s. A busy tenant is then well under
// one call in twenty requests, while a quiet one is not: below about 11
// requests a second per replica the share is above 0.05, and a tenant
// slower than a lease lives is metered request by request.
func TestLeaseCallsByRate(t *testing.T) {
	for _, tt := range []struct {
		perSecond int
		max       float64
	}{
		{1, 1}, {5, 0.12}, {11, 0.055}, {20, 0.03}, {50, 0.012}, {100, 0.006}, {1000, 0.0007},
	} {
		clock := newFakeClock()
		lc := &countingLeaser{Leaser: memstore.New(memstore.Config{Clock: clock.Now})}
		h := newLimited(t, lc, RateLimitConfig{Now: clock.Now})
		// The load test's limit, or ten times the rate when that is more.
		tn := limitedTenant("acme", max(6000, 600*tt.perSecond))
		step := time.Second / time.Duration(tt.perSecond)
		serve := func(d time.Duration) (requests, calls int) {
			before, _, _ := lc.books()
			for end := clock.Now().Add(d); clock.Now().Before(end); clock.Advance(step) {
				require.Equal(t, http.StatusOK, serveAs(context.Background(), h, tn).Code)
				requests++
			}
			after, _, _ := lc.books()
			return requests, len(after) - len(before)
		}
		serve(10 * time.Second)
		requests, calls := serve(30 * time.Second)
		perRequest := float64(calls) / float64(requests)
		t.Logf("%4d requests a second: %3d store calls for %5d requests, %.4f per request", tt.perSecond, calls, requests, perRequest)
		assert.LessOrEqual(t, perRequest, tt.max, "%d requests a second", tt.perSecond)
	}
}
