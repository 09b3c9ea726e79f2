package redisstore_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// createTenants stores an active tenant of each ID: clients, sessions and
// grants are stored only for a tenant that exists.
func createTenants(t *testing.T, s *redisstore.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := s.Tenants().Create(t.Context(), &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err, "create %s", id)
	}
}

// testCascadeBatches deletes a tenant with more keys than a batch and checks
// the count, that SCAN and bounded UNLINKs did it (never KEYS), and that a
// tenant whose ID extends the deleted one keeps everything.
func testCascadeBatches(t *testing.T, rdb redis.UniversalClient, c *counter) {
	ctx := t.Context()
	const batch = 7
	s := redisstore.New(rdb, redisstore.Config{DeleteBatch: batch})
	for _, id := range []string{"acme", "acme-corp"} {
		_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Domain: id + ".example.com", Status: tenant.StatusActive})
		require.NoError(t, err)
		for i := range 40 {
			require.NoError(t, s.Clients().Register(ctx, id, clientNamed(fmt.Sprintf("c%d", i)), 0))
			_, err := s.Sessions().Create(ctx, id, fmt.Sprintf("s%d", i), "u", 0)
			require.NoError(t, err)
		}
		for i := range 15 {
			_, err := s.Allow(ctx, id, fmt.Sprintf("k%d", i), 10)
			require.NoError(t, err)
		}
	}

	n, err := s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1+1+40+1+40+1+15), n)

	left := 0
	iter := func(ctx context.Context, c redis.UniversalClient) {
		it := c.Scan(ctx, 0, keys.Prefix("acme-corp")+"*", 100).Iterator()
		for it.Next(ctx) {
			left++
		}
		require.NoError(t, it.Err())
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			iter(ctx, m)
			return nil
		}))
	} else {
		iter(ctx, rdb)
	}
	assert.Equal(t, 40+1+40+1+15, left, "acme-corp keeps every key")

	if c == nil {
		return
	}
	unlinks := 0
	for _, args := range c.args() {
		assert.NotEqual(t, "keys", args[0])
		if args[0] == "unlink" {
			unlinks++
			assert.LessOrEqual(t, len(args)-1, batch, "UNLINK in batches")
		}
	}
	assert.GreaterOrEqual(t, unlinks, (40+1+40+1+15)/batch)
}

func TestCascadeBatchesMiniredis(t *testing.T) {
	_, _, rdb, _ := newMiniredis(t)
	c := &counter{}
	rdb.AddHook(c)
	testCascadeBatches(t, rdb, c)
}

func TestCascadeBatchesRedis(t *testing.T) {
	rdb := testredis.Standalone(t)
	c := &counter{}
	rdb.AddHook(c)
	testCascadeBatches(t, rdb, c)
}

func TestCascadeBatchesCluster(t *testing.T) {
	// The sweep runs on the masters' own clients, which the cluster
	// client's hooks do not see; the counts are checked all the same.
	testCascadeBatches(t, testredis.Cluster(t), nil)
}

func TestSubscribeIgnoresMalformedEvents(t *testing.T) {
	s, _, rdb, _ := newMiniredis(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan store.Event, 10)
	go func() { _ = s.Subscribe(ctx, func(e store.Event) { events <- e }) }()
	require.Equal(t, store.EventReset, (<-events).Type)

	for _, msg := range []string{
		"not json",
		`{"type":"reset"}`,
		`{"type":"created","id":"ACME"}`,
		`{"type":"created","id":""}`,
		`{"type":"exploded","id":"acme"}`,
		`{"type":"deleted","id":"acme"}`,
	} {
		require.NoError(t, rdb.Publish(ctx, keys.Events, msg).Err())
	}
	select {
	case e := <-events:
		assert.Equal(t, store.Event{Type: store.EventDeleted, TenantID: "acme"}, e)
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}

// testTouchForeignLayout touches a session record whose members are in
// another order than the store writes them (as a record written by another
// version would be): the script falls back to decoding it.
func testTouchForeignLayout(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	createTenants(t, s, "acme")
	const legacy = `{"lastAccessedAt":"2025-01-01T00:00:00Z","createdAt":"2025-01-01T00:00:00Z","tenantId":"acme","userId":"u/1"}`
	require.NoError(t, rdb.Set(ctx, keys.Session("acme", "s1"), legacy, time.Minute).Err())
	require.NoError(t, s.Sessions().Touch(ctx, "acme", "s1"))
	got, err := s.Sessions().Get(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, "u/1", got.UserID)
	assert.Equal(t, 2025, got.CreatedAt.Year())
	assert.Greater(t, got.LastAccessedAt.Year(), 2025)
	ttl, err := rdb.PTTL(ctx, keys.Session("acme", "s1")).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Hour, "the full session lifetime")
}

func TestTouchForeignLayoutMiniredis(t *testing.T) {
	_, _, rdb, _ := newMiniredis(t)
	testTouchForeignLayout(t, rdb)
}

func TestTouchForeignLayoutRedis(t *testing.T) {
	testTouchForeignLayout(t, testredis.Standalone(t))
}

// TestLimiterMatchesMemstore replays one random sequence of requests and
// pauses on redisstore (over miniredis) and on memstore, both on the same
// fake clock, and requires identical decisions: the Lua script and the Go
// function are one algorithm.
func TestLimiterMatchesMemstore(t *testing.T) {
	ctx := t.Context()
	rs, m, _, clock := newMiniredis(t)
	ms := memstore.New(memstore.Config{Clock: clock.Now})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		if rng.IntN(3) == 0 {
			m.SetTime(clock.Advance(time.Duration(rng.Int64N(int64(3 * time.Second)))))
		}
		key := fmt.Sprintf("k%d", rng.IntN(3))
		limit := []int{1, 7, 60, 1000}[rng.IntN(4)]
		want, err := ms.Allow(ctx, "acme", key+fmt.Sprint(limit), limit)
		require.NoError(t, err)
		got, err := rs.Allow(ctx, "acme", key+fmt.Sprint(limit), limit)
		require.NoError(t, err)
		require.Equal(t, want, got, "request %d", i)
	}
}

// TestDeleteSweepsLeftovers checks that a delete that finds no tenant
// record still removes data left under the tenant's name.
func TestDeleteSweepsLeftovers(t *testing.T) {
	s, _, rdb, _ := newMiniredis(t)
	ctx := t.Context()
	require.NoError(t, rdb.Set(ctx, keys.Client("acme", "c1"), "{}", 0).Err())
	n, err := s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	_, err = s.Tenants().Delete(ctx, "acme")
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

// TestRedisErrorsPassThrough checks that a failing Redis is reported as
// such, wrapped, and never as a missing tenant.
func TestRedisErrorsPassThrough(t *testing.T) {
	s, m, _, _ := newMiniredis(t)
	ctx := t.Context()
	m.SetError("LOADING Redis is loading the dataset in memory")
	_, err := s.Tenants().Get(ctx, "acme")
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrNotFound)
	assert.True(t, strings.Contains(err.Error(), "LOADING"), err.Error())
	_, err = s.Allow(ctx, "acme", "k", 10)
	require.Error(t, err)
	err = s.Clients().Register(ctx, "acme", clientNamed("c1"), 10)
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrLimit)
}

// testPermanentIndexSetStaysPermanent: a set that holds a migrated record
// without lifetime (score +inf, no expiry) must not get an expiry from a
// later registration, or the migrated member would vanish with the set.
// A set created by a registration does get one.
func testPermanentIndexSetStaysPermanent(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	createTenants(t, s, "acme")
	require.NoError(t, rdb.ZAdd(ctx, keys.Clients("acme"), redis.Z{Score: math.Inf(1), Member: "legacy"}).Err())
	require.NoError(t, s.Clients().Register(ctx, "acme", clientNamed("new"), 0))
	ttl, err := rdb.PTTL(ctx, keys.Clients("acme")).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), ttl, "the permanent set stays permanent")
	_, err = s.Sessions().Create(ctx, "acme", "s1", "u", 0)
	require.NoError(t, err)
	require.NoError(t, s.Sessions().Touch(ctx, "acme", "s1"))
	ttl, err = rdb.PTTL(ctx, keys.Sessions("acme")).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, time.Hour, "a set made by a registration expires with its newest member")
}

func TestPermanentIndexSetStaysPermanentMiniredis(t *testing.T) {
	_, _, rdb, _ := newMiniredis(t)
	testPermanentIndexSetStaysPermanent(t, rdb)
}

func TestPermanentIndexSetStaysPermanentRedis(t *testing.T) {
	testPermanentIndexSetStaysPermanent(t, testredis.Standalone(t))
}

// failPublish is a go-redis hook that fails every PUBLISH, as a
// connection lost between a write and its announcement would.
type failPublish struct{}

func (failPublish) DialHook(next redis.DialHook) redis.DialHook { return next }

func (failPublish) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "publish" {
			return fmt.Errorf("connection reset")
		}
		return next(ctx, cmd)
	}
}

func (failPublish) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestChangeMadeButNotPublished: when only the event fails, the change is
// made and returned, with an error wrapping store.ErrNotPublished; a
// delete still sweeps the tenant's data.
func TestChangeMadeButNotPublished(t *testing.T) {
	ctx := t.Context()
	_, _, rdb, _ := newMiniredis(t)
	rdb.AddHook(failPublish{})
	s := redisstore.New(rdb, redisstore.Config{})

	created, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	require.ErrorIs(t, err, store.ErrNotPublished)
	require.NotNil(t, created)
	require.NoError(t, s.Clients().Register(ctx, "acme", clientNamed("c1"), 0))

	created.Status = tenant.StatusSuspended
	updated, err := s.Tenants().Update(ctx, created)
	require.ErrorIs(t, err, store.ErrNotPublished)
	assert.Equal(t, tenant.StatusSuspended, updated.Status)
	got, err := s.Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, tenant.StatusSuspended, got.Status)

	n, err := s.Tenants().Delete(ctx, "acme")
	require.ErrorIs(t, err, store.ErrNotPublished)
	assert.EqualValues(t, 3, n, "metadata, the client and the clients set")
	_, err = s.Clients().Get(ctx, "acme", "c1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// A Store without a client is refused when it is made, with a message that
// names the mistake, not on its first command far from it.
func TestNewNilClientPanics(t *testing.T) {
	for name, rdb := range map[string]redis.UniversalClient{
		"nil interface":            nil,
		"nil *redis.Client":        (*redis.Client)(nil),
		"nil *redis.ClusterClient": (*redis.ClusterClient)(nil),
		"nil *redis.Ring":          (*redis.Ring)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			assert.PanicsWithValue(t, "redisstore: New called with a nil Redis client", func() {
				redisstore.New(rdb, redisstore.Config{})
			})
		})
	}
	assert.NotPanics(t, func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
		defer rdb.Close()
		redisstore.New(rdb, redisstore.Config{})
	}, "a client that cannot connect yet is not refused")
}
