package memstore_test

import (
	"testing"
	"time"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/storetest"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		clock := testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 123456789, time.UTC))
		s := memstore.New(memstore.Config{Clock: clock.Now})
		return storetest.Backend{
			Tenants:    s.Tenants(),
			Clients:    s.Clients(),
			Sessions:   s.Sessions(),
			Limiter:    s,
			Events:     s,
			Advance:    func(d time.Duration) { clock.Advance(d) },
			ClientTTL:  memstore.DefaultClientTTL,
			SessionTTL: memstore.DefaultSessionTTL,
		}
	})
}

// TestDeleteCountsEveryKey checks the count of a cascade delete against the
// number of keys the store holds, independently of the suite's arithmetic.
func TestDeleteCountsEveryKey(t *testing.T) {
	ctx := t.Context()
	clock := testclock.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	s := memstore.New(memstore.Config{Clock: clock.Now})
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Domain: "acme.example.com", Status: tenant.StatusActive})
	require.NoError(t, err)
	require.NoError(t, s.Clients().Register(ctx, "acme", &store.Client{ClientID: "c1"}, 0))
	_, err = s.Sessions().Create(ctx, "acme", "s1", "u", 0)
	require.NoError(t, err)
	_, err = s.Allow(ctx, "acme", "k", 10)
	require.NoError(t, err)
	_, err = s.Allow(ctx, "acme", "unlimited", 0)
	require.NoError(t, err)

	before := s.Len()
	assert.Equal(t, 9, before, "metadata, domain, client, clients, session, sessions, limiter, index, set of domains")
	n, err := s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(before-2), n, "every key but the index and the set of domains, which are shared")
	assert.Zero(t, s.Len())
}

// TestExpiredKeysAreNotCounted checks that a delete counts only live keys,
// as UNLINK does.
func TestExpiredKeysAreNotCounted(t *testing.T) {
	ctx := t.Context()
	clock := testclock.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	s := memstore.New(memstore.Config{Clock: clock.Now})
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	require.NoError(t, err)
	_, err = s.Allow(ctx, "acme", "k", 10)
	require.NoError(t, err)
	_, err = s.Sessions().Create(ctx, "acme", "s1", "u", 0)
	require.NoError(t, err)
	clock.Advance(2 * time.Minute) // the limiter state has expired
	n, err := s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "metadata, session, sessions")
}
