package tenancy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// recoverWait bounds the wait for a replica to be served again once the
// cluster is ok. The library needs a second or two; go-redis alone would
// need ClusterStateReloadInterval, which the clients here set to an hour so
// that only the library can pass.
const recoverWait = 20 * time.Second

// probe is one answer seen by a traffic loop.
type probe struct {
	at      time.Time
	code    int
	limited bool // the answer carried RateLimit-* headers: a lease was spent
}

// replica is one Service of the test (one replica of a host) and what it
// saw during the current failover.
type replica struct {
	name string
	svc  *Service
	h    func(id string) *httptest.ResponseRecorder

	mu      sync.Mutex
	cached  []probe // requests for a tenant cached before the kill
	metered []probe // requests for a cached tenant with a rate limit
	cold    []probe // one request each for a tenant never asked before
	resets  []time.Time
	updates map[string]time.Time // tenant ID -> when its update event came
}

func (r *replica) record(list *[]probe, p probe) {
	r.mu.Lock()
	*list = append(*list, p)
	r.mu.Unlock()
}

// clear forgets what the replica saw, for the next failover.
func (r *replica) clear() {
	r.mu.Lock()
	r.cached, r.metered, r.cold, r.resets = nil, nil, nil, nil
	r.updates = map[string]time.Time{}
	r.mu.Unlock()
}

// TestClusterFailoverUnderTraffic kills (SIGKILL) masters of a cluster with
// replicas of the test's own, while two Services (two replicas of a host)
// serve traffic and a writer makes admin changes and registers clients and
// sessions: first a master that holds tenants, then the master that holds
// tenants and the tenant events' slot. Through each failover:
//   - a tenant cached before the kill is served on every request;
//   - a tenant not cached yet answers 503 only until its slot has a master
//     again and the replica's client has followed, then 200 for good;
//   - a rate-limited tenant is let through while Redis fails (no limit
//     headers) and limited again afterwards;
//   - each Service's event subscription moves to the new master by itself
//     (second kill), and a suspension made afterwards reaches both
//     Services within a second;
//   - every change, client and session whose write was acknowledged is
//     there after the failover. The kill waits for the replica to have
//     everything the master acknowledged (KillMaster pauses writes first):
//     what Redis's asynchronous replication can lose without that pause is
//     outside what the library decides.
func TestClusterFailoverUnderTraffic(t *testing.T) {
	lc := testredis.StartCluster(t, testredis.ClusterConfig{})
	ctx := t.Context()
	newClient := func() *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: lc.Addrs(), ClusterStateReloadInterval: time.Hour})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	// 403 tenants on each of two masters: the events' master and another.
	eventsMaster := lc.MasterOf(keys.Events).Addr()
	otherMaster := ""
	tenantsOn := map[bool][]string{} // on the events' master -> IDs
	for i := 0; len(tenantsOn[true]) < 403 || len(tenantsOn[false]) < 403; i++ {
		id := fmt.Sprintf("t%d", i)
		master := lc.MasterOf(keys.Metadata(id)).Addr()
		if otherMaster == "" && master != eventsMaster {
			otherMaster = master
		}
		if master != eventsMaster && master != otherMaster {
			continue
		}
		onEvents := master == eventsMaster
		if len(tenantsOn[onEvents]) < 403 {
			tenantsOn[onEvents] = append(tenantsOn[onEvents], id)
		}
	}
	setup := redisstore.New(newClient(), redisstore.Config{})
	for _, ids := range tenantsOn {
		for i, id := range ids {
			tn := &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive}
			if i == 1 {
				tn.Limits.RateLimit = 1_000_000 // never reached: the headers tell a lease from a pass
			}
			_, err := setup.Tenants().Create(ctx, tn)
			require.NoError(t, err)
		}
	}

	newReplica := func(name string) *replica {
		r := &replica{name: name, updates: map[string]time.Time{}}
		r.svc = newService(t, Config{Redis: newClient(), MultiTenant: true, Identification: ByHeader,
			// A long TTL: after the failover, only an event can make a
			// suspension visible to a replica that has the tenant cached.
			Cache: middleware.CacheConfig{TTL: time.Hour}})
		r.svc.OnEvent(func(e store.Event) {
			r.mu.Lock()
			defer r.mu.Unlock()
			switch e.Type {
			case store.EventReset:
				r.resets = append(r.resets, time.Now())
			case store.EventUpdated:
				r.updates[e.TenantID] = time.Now()
			}
		})
		mw := r.svc.Middleware(whoami)
		r.h = func(id string) *httptest.ResponseRecorder { return get(mw, "x", "/mcp", "X-Tenant-ID", id) }
		waitSubscribed(t, r.svc)
		return r
	}
	replicas := []*replica{newReplica("A"), newReplica("B")}

	t.Run("master of tenants", func(t *testing.T) {
		// Only the clients' own commands can make them follow: the
		// subscriptions live on another master and see nothing.
		failover(t, lc, replicas, tenantsOn[false], false)
	})
	t.Run("master of tenants and events", func(t *testing.T) {
		failover(t, lc, replicas, tenantsOn[true], true)
	})
}

// failover kills the master of ids (whose second tenant has a rate limit)
// under traffic and checks what TestClusterFailoverUnderTraffic says.
// events says whether that master holds the events' slot too.
func failover(t *testing.T, lc *testredis.LocalCluster, replicas []*replica, ids []string, events bool) {
	ctx := t.Context()
	cachedID, meteredID, journalID, coldIDs := ids[0], ids[1], ids[2], ids[3:]
	for _, r := range replicas {
		r.clear()
		require.Equal(t, 200, r.h(cachedID).Code)
		require.Equal(t, 200, r.h(meteredID).Code)
	}

	// Traffic: each replica asks for its cached tenants without pause, and
	// for a tenant it never saw every 50 ms.
	stop := make(chan struct{})
	var loops sync.WaitGroup
	for _, r := range replicas {
		loops.Go(func() {
			for next := 0; ; next++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if next < len(coldIDs) {
					r.record(&r.cold, probe{at: time.Now(), code: r.h(coldIDs[next]).Code})
				}
			}
		})
		loops.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				r.record(&r.cached, probe{at: time.Now(), code: r.h(cachedID).Code})
				rec := r.h(meteredID)
				r.record(&r.metered, probe{at: time.Now(), code: rec.Code, limited: rec.Header().Get("RateLimit-Limit") != ""})
			}
		})
	}

	// The writer: admin changes, clients and sessions on the doomed
	// master, each remembered once its write was acknowledged.
	writer := replicas[0].svc.Store()
	journal, err := writer.Tenants().Get(ctx, journalID)
	require.NoError(t, err)
	var (
		ackMu                   sync.Mutex
		lastName                int
		ackClients, ackSessions []string
		failedWrites            atomic.Int64
	)
	loops.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			cid, sid := fmt.Sprintf("c%d", i), fmt.Sprintf("s%d", i)
			cerr := writer.Clients().Register(wctx, journalID, &store.Client{ClientID: cid}, 0)
			_, serr := writer.Sessions().Create(wctx, journalID, sid, "u", 0)
			tn := *journal
			tn.Name = "v" + strconv.Itoa(i)
			_, uerr := writer.Tenants().Update(wctx, &tn)
			cancel()
			ackMu.Lock()
			if cerr == nil {
				ackClients = append(ackClients, cid)
			}
			if serr == nil {
				ackSessions = append(ackSessions, sid)
			}
			if uerr == nil {
				lastName = i
			}
			ackMu.Unlock()
			for _, err := range []error{cerr, serr, uerr} {
				if err != nil {
					failedWrites.Add(1)
				}
			}
		}
	})

	time.Sleep(500 * time.Millisecond)
	killedAt := time.Now() // KillMaster pauses writes for the few ms before the kill
	killed := lc.KillMaster(keys.Metadata(cachedID))
	lc.WaitOK()
	okAt := time.Now()
	t.Logf("%s killed; cluster ok %v later", killed.Addr(), okAt.Sub(killedAt).Round(time.Millisecond))

	// Each replica serves a tenant it never saw again, takes leases for
	// the metered tenant again and, if its subscription was on the killed
	// node, subscribes again.
	for _, r := range replicas {
		require.Eventually(t, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			served := len(r.cold) > 0 && r.cold[len(r.cold)-1].code == 200 && r.cold[len(r.cold)-1].at.After(okAt)
			limited := len(r.metered) > 0 && r.metered[len(r.metered)-1].limited
			subscribed := !events || len(r.resets) > 0 && r.resets[len(r.resets)-1].After(killedAt)
			return served && limited && subscribed
		}, recoverWait, 10*time.Millisecond, "replica %s recovers by itself", r.name)
	}
	time.Sleep(time.Second) // traffic after the recovery, which must all be served
	close(stop)
	loops.Wait()

	// A suspension made now reaches both replicas through its event: each
	// has a fresh cache entry (the request below reads the tenant again
	// if a reset expired it), so nothing else could make it visible within
	// the hour.
	for _, r := range replicas {
		require.Equal(t, 200, r.h(cachedID).Code)
	}
	tn, err := writer.Tenants().Get(ctx, cachedID)
	require.NoError(t, err)
	tn.Status = tenant.StatusSuspended
	suspendedAt := time.Now()
	_, err = writer.Tenants().Update(ctx, tn)
	require.NoError(t, err)
	for _, r := range replicas {
		require.Eventually(t, func() bool { return r.h(cachedID).Code == 404 }, time.Second, 5*time.Millisecond,
			"replica %s enforces the suspension within a second", r.name)
		r.mu.Lock()
		at, ok := r.updates[cachedID]
		r.mu.Unlock()
		if r != replicas[0] { // the writer's replica applies its own change at once
			require.True(t, ok, "replica %s got the event", r.name)
			t.Logf("replica %s: suspension event after %v", r.name, at.Sub(suspendedAt).Round(time.Microsecond))
		}
	}

	// Nothing acknowledged was lost.
	ackMu.Lock()
	defer ackMu.Unlock()
	require.NotEmpty(t, ackClients)
	require.Positive(t, failedWrites.Load(), "some writes met the dead master")
	got, err := writer.Tenants().Get(ctx, journalID)
	require.NoError(t, err)
	n, err := strconv.Atoi(got.Name[1:])
	require.NoError(t, err, got.Name)
	assert.GreaterOrEqual(t, n, lastName, "the last acknowledged admin change is kept")
	for _, cid := range ackClients {
		_, err := writer.Clients().Get(ctx, journalID, cid)
		assert.NoError(t, err, "acknowledged client %s", cid)
	}
	for _, sid := range ackSessions {
		_, err := writer.Sessions().Get(ctx, journalID, sid)
		assert.NoError(t, err, "acknowledged session %s", sid)
	}
	t.Logf("writes: %d clients, %d sessions acknowledged and found; last admin change v%d; %d writes failed",
		len(ackClients), len(ackSessions), lastName, failedWrites.Load())

	for _, r := range replicas {
		checkReplica(t, r, killedAt, okAt)
	}
}

// checkReplica checks and reports what one replica answered.
func checkReplica(t *testing.T, r *replica, killedAt, okAt time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.cached {
		if !assert.Equal(t, 200, p.code, "replica %s: a cached tenant is always served", r.name) {
			break
		}
	}
	passed := 0
	for _, p := range r.metered {
		if !assert.Equal(t, 200, p.code, "replica %s: the rate limit fails open, never 429 nor 503", r.name) {
			break
		}
		if !p.limited {
			passed++
		}
	}
	assert.Positive(t, passed, "replica %s: requests let through while the limiter's Redis failed", r.name)

	var first503, last503, recovered time.Time
	for _, p := range r.cold {
		switch {
		case p.code == 503:
			assert.True(t, p.at.After(killedAt), "replica %s: no 503 before the kill", r.name)
			assert.True(t, recovered.IsZero(), "replica %s: no 503 once served again after the failover", r.name)
			if first503.IsZero() {
				first503 = p.at
			}
			last503 = p.at
		case p.code == 200:
			if recovered.IsZero() && p.at.After(okAt) {
				recovered = p.at
			}
		default:
			t.Errorf("replica %s: a new tenant answered %d", r.name, p.code)
		}
	}
	require.False(t, first503.IsZero(), "replica %s: a new tenant met the dead master", r.name)
	var reset time.Time
	for _, at := range r.resets {
		if at.After(killedAt) {
			reset = at
			break
		}
	}
	subscribed := "subscription not affected"
	if !reset.IsZero() {
		subscribed = fmt.Sprintf("subscribed again at ok%+dms", reset.Sub(okAt).Milliseconds())
	}
	t.Logf("replica %s: %d cached and %d metered requests served (%d let through unmetered); new tenants: 503 from kill+%v to kill+%v, served again at ok+%v; %s",
		r.name, len(r.cached), len(r.metered), passed,
		first503.Sub(killedAt).Round(time.Millisecond), last503.Sub(killedAt).Round(time.Millisecond),
		recovered.Sub(okAt).Round(time.Millisecond), subscribed)
}
