package memstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/storetest"
)

// fakeClock is a clock the test moves by hand; the suite's concurrent
// cases read it from several goroutines.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		clock := &fakeClock{now: time.Date(2026, 1, 5, 12, 0, 0, 123456789, time.UTC)}
		s := memstore.New(memstore.Options{Clock: clock.Now})
		return storetest.Backend{
			Tenants:    s.Tenants(),
			Clients:    s.Clients(),
			Sessions:   s.Sessions(),
			Limiter:    s,
			Events:     s,
			Advance:    clock.Advance,
			ClientTTL:  memstore.DefaultClientTTL,
			SessionTTL: memstore.DefaultSessionTTL,
		}
	})
}
