package memstore_test

import (
	"testing"
	"time"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/storetest"
)

func TestGrantsConformance(t *testing.T) {
	storetest.RunGrants(t, func(t *testing.T) storetest.GrantsBackend {
		clock := testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC))
		s := memstore.New(memstore.Config{Clock: clock.Now})
		return storetest.GrantsBackend{
			Grants:  s.Grants(),
			Tenants: s.Tenants(),
			Advance: func(d time.Duration) { clock.Advance(d) },
		}
	})
}
