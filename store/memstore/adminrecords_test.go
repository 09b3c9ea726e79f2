package memstore_test

import (
	"testing"
	"time"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/storetest"
)

func TestAdminRecordsConformance(t *testing.T) {
	storetest.RunAdminRecords(t, func(t *testing.T) storetest.AdminRecordsBackend {
		clock := testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC))
		s := memstore.New(memstore.Config{Clock: clock.Now})
		return storetest.AdminRecordsBackend{Usage: s.Usage(), Audit: s.Audit(), AdminKeys: s.AdminKeys(), Tenants: s.Tenants()}
	})
}
