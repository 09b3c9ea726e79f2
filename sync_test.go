package tenancy

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// brokenEvents is a store whose event subscription breaks when told to
// (as a Redis connection does) and which holds back the updated events
// while held is open, as a busy subscription does.
type brokenEvents struct {
	store.Backend
	marker store.Marker
	brk    chan struct{}
	held   chan struct{}
}

func (b *brokenEvents) Mark(ctx context.Context, mark string) error { return b.marker.Mark(ctx, mark) }

func (b *brokenEvents) Subscribe(ctx context.Context, fn func(store.Event)) error {
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-b.brk:
			cancel()
		case <-sub.Done():
		}
	}()
	err := b.Backend.Subscribe(sub, func(e store.Event) {
		if e.Type == store.EventUpdated {
			<-b.held
		}
		fn(e)
	})
	if ctx.Err() != nil {
		return err
	}
	return errors.New("subscription broken")
}

// A Sync that begins while the Service applies the reset of a new
// subscription waits for its own mark: the reset dropped what the caches
// held before the Sync's caller made its change, not after. Before, the
// reset released every Sync waiting when it was done, so a tenant
// suspended during the reset, read and cached active meanwhile, was still
// served after such a Sync returned, until its event came.
func TestSyncDuringAResetWaitsForItsMark(t *testing.T) {
	mem := memstore.New(memstore.Config{}).Backend()
	b := &brokenEvents{Backend: mem, marker: mem.(store.Marker), brk: make(chan struct{}), held: make(chan struct{})}
	s := newService(t, Config{Store: b, MultiTenant: true, Identification: ByHeader})
	waitSubscribed(t, s)
	ctx := context.Background()
	acme, err := mem.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive})
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	h := s.Middleware(whoami)
	require.Equal(t, http.StatusOK, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)

	// The next reset's hooks run while the test works.
	inReset, release := make(chan struct{}), make(chan struct{})
	resets := 0
	s.OnEvent(func(e store.Event) {
		if e.Type == store.EventReset {
			if resets++; resets == 1 {
				close(inReset)
				<-release
			}
		}
	})
	close(b.brk)
	<-inReset

	// The caches were dropped; acme is read again and cached, then
	// suspended, and a Sync begins.
	require.Equal(t, http.StatusOK, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
	acme.Status = tenant.StatusSuspended
	_, err = mem.Tenants().Update(ctx, acme)
	require.NoError(t, err)
	synced := make(chan error, 1)
	go func() { synced <- s.Sync(ctx) }()
	time.Sleep(50 * time.Millisecond) // the Sync's mark is published
	close(release)

	select {
	case err := <-synced:
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code,
			"a tenant suspended before Sync was called is served after it returned")
		close(b.held)
	case <-time.After(200 * time.Millisecond):
		// Sync waits for its mark, behind the suspension.
		close(b.held)
		require.NoError(t, <-synced)
		assert.Equal(t, http.StatusNotFound, get(h, "x", "/mcp", "X-Tenant-ID", "acme").Code)
	}
}
