package hosts_test

import (
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store"
)

// waitEvent reads events until one of type typ for the tenant id: the
// host's hook sees it after the cache has applied it.
func waitEvent(t *testing.T, events <-chan store.Event, typ store.EventType, id string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Type == typ && e.TenantID == id {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", typ, id)
		}
	}
}
