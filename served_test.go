package tenancy

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// Config.OnServed runs in the tenant middleware, before the rate limit:
// it sees the requests the rate limit then refuses, which the Service's
// own count of served requests does not include.
func TestOnServedRunsBeforeTheRateLimit(t *testing.T) {
	var served atomic.Int64
	mem := memstore.New(memstore.Config{}).Backend()
	s := newService(t, Config{Store: mem, MultiTenant: true, Identification: ByHeader,
		OnServed: func(*http.Request, *tenant.Tenant) { served.Add(1) }})
	waitSubscribed(t, s)
	createTenant(t, s, "acme", func(tn *tenant.Tenant) { tn.Limits.RateLimit = 1 })
	require.NoError(t, s.Sync(t.Context()))
	h := s.Middleware(whoami)
	codes := []int{get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code}
	assert.Equal(t, []int{http.StatusOK, http.StatusTooManyRequests}, codes)
	assert.Equal(t, int64(2), served.Load(), "OnServed sees the refused request too")

	require.NoError(t, s.Usage().Flush(t.Context()))
	days, err := mem.Usage().Read(t.Context(), "acme", today(), today())
	require.NoError(t, err)
	assert.Equal(t, int64(1), days[0].Served)
	assert.Equal(t, int64(1), days[0].RateLimited)
}

// In single-tenant mode, tenant default's usage and audit trail are kept
// only once the store holds its record: without one, what the Service
// counts and records for it is dropped, as for any tenant the store does
// not hold.
func TestSingleTenantUsageNeedsTheRecord(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New(memstore.Config{}).Backend()
	s := newService(t, Config{Store: mem})
	h := s.Middleware(whoami)
	require.Equal(t, http.StatusOK, get(h, "x", "/mcp").Code)
	s.AuthRefused(tenant.DefaultID, "no token")
	require.NoError(t, s.Usage().Flush(ctx))
	days, err := mem.Usage().Read(ctx, tenant.DefaultID, today(), today())
	require.NoError(t, err)
	assert.Zero(t, days[0].Served, "no record, no usage")

	createTenant(t, s, tenant.DefaultID)
	require.Equal(t, http.StatusOK, get(h, "x", "/mcp").Code)
	require.NoError(t, s.Usage().Flush(ctx))
	days, err = mem.Usage().Read(ctx, tenant.DefaultID, today(), today())
	require.NoError(t, err)
	assert.Equal(t, int64(1), days[0].Served)
}
