package tenancy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
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
	marked chan struct{} // receives once for each mark published
}

func (b *brokenEvents) Mark(ctx context.Context, mark string) error {
	err := b.marker.Mark(ctx, mark)
	select {
	case b.marked <- struct{}{}:
	default:
	}
	return err
}

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
	b := &brokenEvents{Backend: mem, marker: mem.(store.Marker), brk: make(chan struct{}), held: make(chan struct{}),
		marked: make(chan struct{}, 1)}
	s := newService(t, Config{Store: b, MultiTenant: true, Identification: ByHeader})
	waitSubscribed(t, s)
	ctx := context.Background()
	acme, err := mem.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive})
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	<-b.marked
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
	<-b.marked // the Sync waits for its mark, published
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

// OnEvent's hooks run on the admin request's goroutine for a change made
// through this replica's admin API, while the subscription's goroutine
// may be running them for another event: one change reaches them twice,
// and two calls may overlap.
func TestOnEventHooksOfAdminChanges(t *testing.T) {
	const key = "hooks-test-operator-key-0123456789"
	s := newService(t, Config{Store: memstore.New(memstore.Config{}).Backend(), MultiTenant: true, Identification: ByHeader, AdminAPIKey: key})
	waitSubscribed(t, s)
	held, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var seen []string
	var inside, overlapped atomic.Int32
	s.OnEvent(func(e store.Event) {
		if inside.Add(1) > 1 {
			overlapped.Store(1)
		}
		defer inside.Add(-1)
		mu.Lock()
		seen = append(seen, string(e.Type)+" "+e.TenantID)
		mu.Unlock()
		if e.TenantID == "first" {
			select {
			case <-held:
			default:
				close(held)
				<-release
			}
		}
	})
	createTenant(t, s, "first") // its event holds the subscription's hook
	<-held
	req := httptest.NewRequest(http.MethodPost, "/admin/tenants", strings.NewReader(`{"id":"second","name":"second"}`))
	req.Header.Set(AdminKeyHeader, key)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Admin().ServeHTTP(rec, req)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	assert.Equal(t, int32(1), overlapped.Load(), "the admin request's hook ran while the subscription's did")
	close(release)
	require.NoError(t, s.Sync(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, e := range seen {
		if e == "created second" {
			n++
		}
	}
	assert.Equal(t, 2, n, "the admin change, then its event; seen: %v", seen)
}
