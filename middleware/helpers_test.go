package middleware

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/tenant"
)

// fakeTenants is a Getter over a map that counts its reads and can be made
// to fail or to wait, standing in for a store.
type fakeTenants struct {
	mu      sync.Mutex
	tenants map[string]tenant.Tenant
	reads   atomic.Int64
	down    atomic.Bool
	delay   time.Duration
}

var errDown = errors.New("fake: connection refused")

func newFakeTenants(ts ...tenant.Tenant) *fakeTenants {
	f := &fakeTenants{tenants: map[string]tenant.Tenant{}}
	for _, t := range ts {
		f.tenants[t.ID] = t
	}
	return f
}

// Get answers as of the moment it is called, after the delay: like a
// store whose answer is on its way back while the data changes.
func (f *fakeTenants) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	f.reads.Add(1)
	f.mu.Lock()
	t, ok := f.tenants[id]
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.down.Load() {
		return nil, errDown
	}
	if !ok {
		return nil, fmt.Errorf("fake: %w", tenant.ErrNotFound)
	}
	return &t, nil
}

func (f *fakeTenants) set(t tenant.Tenant) {
	f.mu.Lock()
	f.tenants[t.ID] = t
	f.mu.Unlock()
}

func activeTenant(id string) tenant.Tenant {
	return tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive}
}

func suspendedTenant(id string) tenant.Tenant {
	t := activeTenant(id)
	t.Status = tenant.StatusSuspended
	return t
}

// newFakeClock returns a clock the cache tests move by hand.
func newFakeClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
}
