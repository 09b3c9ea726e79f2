package middleware

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// countingTenants wraps a real store and counts the reads that reach it.
type countingTenants struct {
	Getter
	reads atomic.Int64
	delay time.Duration
}

func (c *countingTenants) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	c.reads.Add(1)
	time.Sleep(c.delay)
	return c.Getter.Get(ctx, id)
}

func newCountingStore(t *testing.T, ids ...string) *countingTenants {
	st := memstore.New(memstore.Config{})
	for _, id := range ids {
		_, err := st.Tenants().Create(context.Background(), &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err)
	}
	return &countingTenants{Getter: st.Tenants()}
}

// TestConcurrentFirstRequestsReadTheStoreOnce runs in a synctest bubble,
// where the store's delay ends only once all 100 requests wait for it, so
// that none of them can come late and find the tenant already cached. The
// cache runs on the bubble's clock.
func TestConcurrentFirstRequestsReadTheStoreOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newCountingStore(t, "acme")
		st.delay = 20 * time.Millisecond
		h := newTenantHandler(t, TenantConfig{Cache: NewCache(st, CacheConfig{Now: time.Now})})
		var wg sync.WaitGroup
		var ok atomic.Int64
		for range 100 {
			wg.Go(func() {
				if serve(h, "X-Tenant-ID", "acme").Code == http.StatusOK {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 100, ok.Load())
		assert.EqualValues(t, 1, st.reads.Load())
	})
}

func TestFloodOfRandomUnknownTenants(t *testing.T) {
	st := newCountingStore(t, "acme")
	cache := NewCache(st, CacheConfig{MaxNegative: 1000, MissesPerSecond: 100})
	h := newTenantHandler(t, TenantConfig{Cache: cache})
	require.Equal(t, http.StatusOK, serve(h, "X-Tenant-ID", "acme").Code)

	start := time.Now()
	statuses := map[int]int{}
	for i := range 10000 {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("X-Tenant-ID", fmt.Sprintf("random-%d", i))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		statuses[rec.Code]++
	}
	elapsed := time.Since(start)
	reads := st.reads.Load()
	// The bucket starts full (100) and refills at 100 a second.
	bound := int64(1 + 100 + 100*elapsed.Seconds() + 100)
	t.Logf("10,000 unknown IDs in %v: %d store reads, statuses %v, cache %+v", elapsed, reads, statuses, cache.Stats())
	assert.LessOrEqual(t, reads, bound)
	assert.Equal(t, 10000, statuses[http.StatusNotFound]+statuses[http.StatusServiceUnavailable])
	assert.LessOrEqual(t, cache.Stats().NegativeEntries, 1000)
	assert.Equal(t, http.StatusOK, serve(h, "X-Tenant-ID", "acme").Code, "the real tenant is still served from the cache")
	assert.Equal(t, reads, st.reads.Load())
}
