package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onUnlink is a go-redis hook that runs fn on the first UNLINK, in place
// of sending it: fn's error is the command's. It is armed by setting fn.
type onUnlink struct {
	mu sync.Mutex
	fn func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error
}

func (h *onUnlink) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *onUnlink) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "unlink" {
			return next(ctx, cmd)
		}
		h.mu.Lock()
		fn := h.fn
		h.fn = nil
		h.mu.Unlock()
		if fn == nil {
			return next(ctx, cmd)
		}
		return fn(ctx, cmd, next)
	}
}

func (h *onUnlink) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *onUnlink) arm(fn func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fn = fn
}

// hookSweep adds h where the sweep's commands pass: the client itself, or
// on a cluster each master's own client (the cluster client's hooks do not
// see them).
func hookSweep(t *testing.T, rdb redis.UniversalClient, h redis.Hook) {
	t.Helper()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		rdb.AddHook(h)
		return
	}
	var mu sync.Mutex
	require.NoError(t, cc.ForEachMaster(t.Context(), func(_ context.Context, m *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		m.AddHook(h)
		return nil
	}))
}

func exists(t *testing.T, rdb redis.UniversalClient, key string) bool {
	t.Helper()
	n, err := rdb.Exists(t.Context(), key).Result()
	require.NoError(t, err)
	return n == 1
}

var leftAcme = &tenant.Tenant{ID: "acme", Name: "ACME", Domain: "acme.example.com", Status: tenant.StatusActive,
	OIDC: tenant.OIDC{Issuer: "https://idp.example.com", Audience: "mcp-acme"}}

// testDeleteLeavesNothingToInherit: a delete that fails midway leaves
// keys of the tenant, its admin keys among them. The ID cannot be created
// again until a second delete finished the first; the tenant created then
// starts empty, and the old admin key is gone.
func testDeleteLeavesNothingToInherit(t *testing.T, rdb redis.UniversalClient, cancelIt bool) {
	bg := t.Context()
	s := redisstore.New(rdb, redisstore.Config{DeleteBatch: 2})
	_, err := s.Tenants().Create(bg, leftAcme)
	require.NoError(t, err)
	for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		require.NoError(t, s.Clients().Register(bg, "acme", clientNamed(c), 0))
	}
	_, err = s.Sessions().Create(bg, "acme", "s1", "u", 0)
	require.NoError(t, err)
	require.NoError(t, s.AdminKeys().Create(bg, "acme", store.AdminKey{ID: "k1", Hash: "h", CreatedAt: time.Now()}, 0))

	h := &onUnlink{}
	hookSweep(t, rdb, h)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	if cancelIt {
		// The caller hangs up while the sweep runs.
		h.arm(func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
			cancel()
			return next(ctx, cmd)
		})
	} else {
		h.arm(func(context.Context, redis.Cmder, redis.ProcessHook) error {
			return errors.New("connection reset by peer")
		})
	}
	_, err = s.Tenants().Delete(ctx, "acme")
	require.Error(t, err, "the delete fails midway")
	assert.NotErrorIs(t, err, store.ErrNotFound)
	if cancelIt {
		assert.ErrorIs(t, err, context.Canceled)
	}
	require.True(t, exists(t, rdb, keys.AdminKeys("acme")), "the failed sweep left the admin keys")
	assert.True(t, exists(t, rdb, keys.Deleting("acme")), "the unfinished delete is marked")

	_, err = s.Tenants().Create(bg, leftAcme)
	require.ErrorIs(t, err, store.ErrDeleteUnfinished, "no tenant of the ID until the delete is finished")
	assert.NotErrorIs(t, err, store.ErrTenantExists)
	_, err = s.Tenants().Get(bg, "acme")
	require.ErrorIs(t, err, store.ErrTenantNotFound)
	_, err = s.Tenants().LookupDomain(bg, leftAcme.Domain)
	assert.ErrorIs(t, err, store.ErrTenantNotFound, "the refused create released the domain")
	_, err = s.Tenants().LookupIssuer(bg, leftAcme.OIDC.Issuer, leftAcme.OIDC.Audience)
	assert.ErrorIs(t, err, store.ErrTenantNotFound, "the refused create released the issuer and audience")

	n, err := s.Tenants().Delete(bg, "acme")
	require.NoError(t, err, "a second delete finishes the first")
	assert.Positive(t, n)
	assert.False(t, exists(t, rdb, keys.Deleting("acme")), "the finished delete clears its marker")

	_, err = s.Tenants().Create(bg, leftAcme)
	require.NoError(t, err)
	for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		_, err = s.Clients().Get(bg, "acme", c)
		assert.ErrorIs(t, err, store.ErrNotFound, "client %s of the old tenant", c)
	}
	_, err = s.Sessions().Get(bg, "acme", "s1")
	assert.ErrorIs(t, err, store.ErrNotFound, "session of the old tenant")
	_, err = s.AdminKeys().Get(bg, "acme", "k1")
	assert.ErrorIs(t, err, store.ErrNotFound, "the old admin key is gone")
	list, err := s.AdminKeys().List(bg, "acme")
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestDeleteLeavesNothingToInherit(t *testing.T) {
	for _, cancelIt := range []bool{false, true} {
		t.Run(map[bool]string{false: "fails", true: "canceled"}[cancelIt], func(t *testing.T) {
			onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
				testDeleteLeavesNothingToInherit(t, rdb, cancelIt)
			})
		})
	}
}

// testDeleteOfNoTenantLeavesNoMarker: a delete that finds nothing answers
// not found and leaves no marker that would refuse a later create.
func testDeleteOfNoTenantLeavesNoMarker(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	_, err := s.Tenants().Delete(ctx, "ghost")
	require.ErrorIs(t, err, store.ErrTenantNotFound)
	assert.False(t, exists(t, rdb, keys.Deleting("ghost")))
	_, err = s.Tenants().Create(ctx, &tenant.Tenant{ID: "ghost", Name: "G", Status: tenant.StatusActive})
	require.NoError(t, err)
}

func TestDeleteOfNoTenantLeavesNoMarker(t *testing.T) {
	onEachBackend(t, testDeleteOfNoTenantLeavesNoMarker)
}

// testCreateDuringDelete: a create of the ID while its delete sweeps the
// data is refused; once the delete is done the ID is free.
func testCreateDuringDelete(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{DeleteBatch: 2})
	_, err := s.Tenants().Create(ctx, leftAcme)
	require.NoError(t, err)
	for _, c := range []string{"c1", "c2", "c3"} {
		require.NoError(t, s.Clients().Register(ctx, "acme", clientNamed(c), 0))
	}
	h := &onUnlink{}
	hookSweep(t, rdb, h)
	var during error
	h.arm(func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		_, during = s.Tenants().Create(context.WithoutCancel(ctx), leftAcme)
		return next(ctx, cmd)
	})
	_, err = s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	require.ErrorIs(t, during, store.ErrDeleteUnfinished, "a create while the delete sweeps is refused")
	_, err = s.Tenants().Get(ctx, "acme")
	require.ErrorIs(t, err, store.ErrTenantNotFound)
	_, err = s.Tenants().Create(ctx, leftAcme)
	require.NoError(t, err, "the ID is free once the delete is done")
	_, err = s.Clients().Get(ctx, "acme", "c1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestCreateDuringDelete(t *testing.T) {
	onEachBackend(t, testCreateDuringDelete)
}

// The marker shares the tenant's slot, so the create script reads it beside
// the record on a cluster, and lies outside the pattern the sweep removes.
func TestDeletingMarkerKey(t *testing.T) {
	for _, id := range slotIDs {
		marker := keys.Deleting(id)
		assert.Equal(t, slot(keys.Metadata(id)), slot(marker), marker)
		assert.False(t, strings.HasPrefix(marker, keys.Prefix(id)), "%s is outside the sweep", marker)
		assert.False(t, strings.HasPrefix(marker, "tenant:{"), "%s is outside every tenant's sweep", marker)
	}
}

// testWriteDuringSweep: a request that was in flight when its tenant was
// deleted writes while the delete sweeps: a client registration, a
// session, a grant, an admin key, an audit event. Each is refused, so
// nothing survives the sweep for the tenant created later under the ID.
func testWriteDuringSweep(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	_, err := s.Tenants().Create(ctx, leftAcme)
	require.NoError(t, err)
	require.NoError(t, s.Clients().Register(ctx, "acme", clientNamed("c1"), 0))

	owner := store.Owner{Issuer: "https://idp.example.com", Subject: "u1"}
	during := map[string]error{}
	h := &onUnlink{}
	hookSweep(t, rdb, h)
	h.arm(func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
		bg := context.WithoutCancel(ctx)
		during["Clients.Register"] = s.Clients().Register(bg, "acme", clientNamed("late"), 0)
		_, during["Sessions.Create"] = s.Sessions().Create(bg, "acme", "late", "u1", 0)
		_, during["Sessions.Admit"] = s.Sessions().Admit(bg, "acme", "late2", owner, store.SessionLimits{PerOwner: 1})
		during["Grants.Put"] = s.Grants().Put(bg, "acme", store.GrantCode, "late", []byte("x"), time.Hour)
		during["AdminKeys.Create"] = s.AdminKeys().Create(bg, "acme", store.AdminKey{ID: "late", Hash: "h", CreatedAt: time.Now()}, 0)
		_, during["Audit.Append"] = s.Audit().Append(bg, "acme", store.AuditEvent{Action: "late"}, 0)
		return next(ctx, cmd)
	})
	_, err = s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, during, 6, "the writes ran during the sweep")
	for name, err := range during {
		assert.ErrorIs(t, err, store.ErrTenantNotFound, "%s during the sweep", name)
	}

	_, err = s.Tenants().Create(ctx, leftAcme)
	require.NoError(t, err)
	_, err = s.Clients().Get(ctx, "acme", "late")
	assert.ErrorIs(t, err, store.ErrNotFound, "no client survived the sweep")
	for _, id := range []string{"late", "late2"} {
		_, err = s.Sessions().Get(ctx, "acme", id)
		assert.ErrorIs(t, err, store.ErrNotFound, "no session %s survived the sweep", id)
	}
	_, err = s.Grants().Get(ctx, "acme", store.GrantCode, "late")
	assert.ErrorIs(t, err, store.ErrNotFound, "no grant survived the sweep")
	_, err = s.AdminKeys().Get(ctx, "acme", "late")
	assert.ErrorIs(t, err, store.ErrNotFound, "no admin key survived the sweep")
	page, err := s.Audit().Read(ctx, "acme", "", 0)
	require.NoError(t, err)
	assert.Empty(t, page, "no audit event survived the sweep")
}

func TestWriteDuringSweep(t *testing.T) {
	onEachBackend(t, testWriteDuringSweep)
}

// unlinks is a go-redis hook that calls fn before each UNLINK is sent,
// with the UNLINK's number (1 for the first).
type unlinks struct {
	n  atomic.Int32
	fn func(n int32)
}

func (h *unlinks) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *unlinks) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "unlink" {
			h.fn(h.n.Add(1))
		}
		return next(ctx, cmd)
	}
}

func (h *unlinks) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// testOverlappingDeletes: a second delete of the ID starts while the first
// sweeps and is still sweeping when the first ends. The first must not
// clear the second's marker: the ID stays refused until the second is
// done.
func testOverlappingDeletes(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	_, err := s.Tenants().Create(ctx, leftAcme)
	require.NoError(t, err)
	require.NoError(t, s.Clients().Register(ctx, "acme", clientNamed("c1"), 0))

	secondSweeps, release, secondDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	var second error
	hookSweep(t, rdb, &unlinks{fn: func(n int32) {
		switch n {
		case 1: // the first delete sweeps: the second starts and reaches its sweep
			go func() {
				defer close(secondDone)
				_, second = s.Tenants().Delete(context.WithoutCancel(ctx), "acme")
			}()
			select {
			case <-secondSweeps:
			case <-time.After(10 * time.Second):
				t.Error("the second delete did not reach its sweep")
			}
		case 2: // the second delete sweeps: it waits for the first to end
			close(secondSweeps)
			<-release
		}
	}})
	_, err = s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.True(t, exists(t, rdb, keys.Deleting("acme")), "the first delete left the marker of the second, still sweeping")
	_, err = s.Tenants().Create(ctx, leftAcme)
	require.ErrorIs(t, err, store.ErrDeleteUnfinished, "no tenant of the ID while the second delete sweeps")

	releaseOnce.Do(func() { close(release) })
	<-secondDone
	require.ErrorIs(t, second, store.ErrTenantNotFound, "the second delete found nothing left")
	assert.False(t, exists(t, rdb, keys.Deleting("acme")), "the second delete clears its marker")
	_, err = s.Tenants().Create(ctx, leftAcme)
	require.NoError(t, err)
}

func TestOverlappingDeletes(t *testing.T) {
	onEachBackend(t, testOverlappingDeletes)
}
