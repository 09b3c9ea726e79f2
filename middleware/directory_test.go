package middleware

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// TestSuspendedRuledOutLikeUnknown: with a loaded directory, neither an
// unknown nor a suspended ID is ever read from the store, on the first
// probe or any later one.
func TestSuspendedRuledOutLikeUnknown(t *testing.T) {
	ms := memstore.New(memstore.Config{})
	for _, tn := range []tenant.Tenant{activeTenant("acme"), suspendedTenant("frozen")} {
		_, err := ms.Tenants().Create(context.Background(), &tn)
		require.NoError(t, err)
	}
	dir := NewDirectory(ms.Tenants(), DirectoryConfig{})
	require.NoError(t, dir.Load(context.Background()))
	src := &perID{Getter: ms.Tenants(), reads: map[string]int{}}
	clk := newFakeClock()
	c := NewCache(src, CacheConfig{Known: dir, Now: clk.Now})
	for range 5 {
		_, err := c.Get(context.Background(), "nobody")
		require.ErrorIs(t, err, tenant.ErrNotFound)
		_, err = c.Get(context.Background(), "frozen")
		require.ErrorIs(t, err, ErrInactive)
		clk.Advance(time.Minute)
	}
	assert.Zero(t, src.count("nobody"))
	assert.Zero(t, src.count("frozen"))
	assert.EqualValues(t, 10, c.Stats().RuledOut)
	assert.Equal(t, 0, c.Stats().NegativeEntries, "nothing to remember: the directory answers")
}

// newLoaded returns a memstore holding tenants, and a loaded directory of
// it.
func newLoaded(t *testing.T, cfg DirectoryConfig, tenants ...tenant.Tenant) (*memstore.Store, *Directory) {
	t.Helper()
	ms := memstore.New(memstore.Config{})
	for _, tn := range tenants {
		_, err := ms.Tenants().Create(context.Background(), &tn)
		require.NoError(t, err)
	}
	dir := NewDirectory(ms.Tenants(), cfg)
	require.NoError(t, dir.Load(context.Background()))
	return ms, dir
}

func withDomain(tn tenant.Tenant, host string) tenant.Tenant {
	tn.Domain = host
	return tn
}

func TestDirectoryPresence(t *testing.T) {
	_, dir := newLoaded(t, DirectoryConfig{},
		withDomain(activeTenant("acme"), "mcp.acme.com"), withDomain(suspendedTenant("frozen"), "mcp.frozen.com"), activeTenant("beta"))
	for id, want := range map[string]Presence{"acme": Exists, "beta": Exists, "frozen": Inactive, "nobody": Absent} {
		assert.Equal(t, want, dir.Presence(id), id)
	}
	domains := dir.Domains()
	for host, want := range map[string]Presence{"mcp.acme.com": Exists, "mcp.frozen.com": Inactive, "made.up.com": Absent} {
		assert.Equal(t, want, domains.Presence(host), host)
	}
	st := dir.Stats()
	assert.Equal(t, DirectoryStats{Loaded: true, Tenants: 3, Inactive: 1, Domains: 2, Loads: 1, LoadedAt: st.LoadedAt}, st)

	empty := NewDirectory(memstore.New(memstore.Config{}).Tenants(), DirectoryConfig{})
	assert.Equal(t, MayExist, empty.Presence("acme"), "not loaded: no opinion")
	assert.Equal(t, MayExist, empty.Domains().Presence("mcp.acme.com"))
}

// TestDirectoryFollowsEventsAndReads drives a directory through a cache
// the way the tenant middleware does: the events reach it through
// Cache.Handle, and the reads the cache makes on them teach it each
// tenant's status and domain.
func TestDirectoryFollowsEventsAndReads(t *testing.T) {
	ms, dir := newLoaded(t, DirectoryConfig{}, activeTenant("acme"))
	ctx := context.Background()
	c := NewCache(ms.Tenants(), CacheConfig{Known: dir})
	settled := func() {
		t.Helper()
		require.Eventually(t, func() bool { return dir.Stats().Unsettled == 0 }, 5*time.Second, time.Millisecond)
	}

	// Created elsewhere: known as soon as the event is handled, its
	// domain once the read the event starts has come back.
	created, err := ms.Tenants().Create(ctx, &tenant.Tenant{ID: "new", Name: "New", Domain: "mcp.new.com", Status: tenant.StatusActive})
	require.NoError(t, err)
	assert.Equal(t, Absent, dir.Presence("new"), "before its event")
	c.Handle(store.Event{Type: store.EventCreated, TenantID: "new"})
	assert.Equal(t, Exists, dir.Presence("new"))
	settled()
	assert.Equal(t, Exists, dir.Domains().Presence("mcp.new.com"))
	got, err := c.Get(ctx, "new")
	require.NoError(t, err)
	assert.Equal(t, "new", got.ID, "the event's read warmed the cache")

	// Suspended: refused without a read once the event's read is back.
	created.Status = tenant.StatusSuspended
	_, err = ms.Tenants().Update(ctx, created)
	require.NoError(t, err)
	c.Handle(store.Event{Type: store.EventUpdated, TenantID: "new"})
	settled()
	assert.Equal(t, Inactive, dir.Presence("new"))
	assert.Equal(t, Inactive, dir.Domains().Presence("mcp.new.com"))

	// Its domain moves: the old one is nobody's any more.
	created.Status, created.Domain = tenant.StatusActive, "mcp2.new.com"
	_, err = ms.Tenants().Update(ctx, created)
	require.NoError(t, err)
	c.Handle(store.Event{Type: store.EventUpdated, TenantID: "new"})
	settled()
	assert.Equal(t, Exists, dir.Presence("new"))
	assert.Equal(t, Absent, dir.Domains().Presence("mcp.new.com"))
	assert.Equal(t, Exists, dir.Domains().Presence("mcp2.new.com"))

	_, err = ms.Tenants().Delete(ctx, "new")
	require.NoError(t, err)
	c.Handle(store.Event{Type: store.EventDeleted, TenantID: "new"})
	assert.Equal(t, Absent, dir.Presence("new"))
	assert.Equal(t, Absent, dir.Domains().Presence("mcp2.new.com"))
	_, err = c.Get(ctx, "new")
	require.ErrorIs(t, err, tenant.ErrNotFound)
}

// TestDirectoryUnsettledDomains: between a created event and the read that
// tells the tenant's domain, an unknown host is read rather than refused,
// so that a domain just created is served.
func TestDirectoryUnsettledDomains(t *testing.T) {
	_, dir := newLoaded(t, DirectoryConfig{})
	dir.apply(store.Event{Type: store.EventCreated, TenantID: "new"})
	assert.Equal(t, MayExist, dir.Domains().Presence("mcp.new.com"))
	dir.learn("new", &tenant.Tenant{ID: "new", Domain: "mcp.new.com", Status: tenant.StatusActive})
	assert.Equal(t, Exists, dir.Domains().Presence("mcp.new.com"))
	assert.Equal(t, Absent, dir.Domains().Presence("made.up.com"))
}

// TestDirectoryEventLiftsInactive: an updated event of a suspended tenant
// (it may just have been reactivated) takes it off the inactive set until
// the read the event starts tells its status, so that the requests that
// come before that read are read from the store, which serves them,
// rather than refused 404 from what the directory held.
func TestDirectoryEventLiftsInactive(t *testing.T) {
	_, dir := newLoaded(t, DirectoryConfig{}, withDomain(suspendedTenant("frozen"), "mcp.frozen.com"))
	require.Equal(t, Inactive, dir.Presence("frozen"))
	dir.apply(store.Event{Type: store.EventUpdated, TenantID: "frozen"})
	assert.Equal(t, Exists, dir.Presence("frozen"), "read, not refused, until the event's read is back")
	assert.Equal(t, Exists, dir.Domains().Presence("mcp.frozen.com"))
	dir.learn("frozen", &tenant.Tenant{ID: "frozen", Domain: "mcp.frozen.com", Status: tenant.StatusSuspended})
	assert.Equal(t, Inactive, dir.Presence("frozen"), "still suspended: refused again")
	assert.Equal(t, Inactive, dir.Domains().Presence("mcp.frozen.com"))
}

// TestDirectoryDeleteLeavesNothing: a deleted tenant leaves nothing in the
// directory, neither its place among the inactive tenants (which are held
// up to MaxExact) nor its domain or issuer pair, whichever of the event
// and a read that finds nothing tells it.
func TestDirectoryDeleteLeavesNothing(t *testing.T) {
	for _, how := range []string{"event", "read"} {
		t.Run(how, func(t *testing.T) {
			_, dir := newLoaded(t, DirectoryConfig{}, withPair(withDomain(suspendedTenant("frozen"), "mcp.frozen.com"), "frozen"))
			st := dir.Stats()
			require.Equal(t, [3]int{1, 1, 1}, [3]int{st.Inactive, st.Domains, st.Issuers})
			if how == "event" {
				dir.apply(store.Event{Type: store.EventDeleted, TenantID: "frozen"})
			} else {
				dir.learn("frozen", nil)
			}
			st = dir.Stats()
			assert.Equal(t, [4]int{0, 0, 0, 0}, [4]int{st.Tenants, st.Inactive, st.Domains, st.Issuers}, "tenants, inactive, domains, pairs")
			assert.Equal(t, Absent, dir.Presence("frozen"))
			assert.Equal(t, Absent, dir.Domains().Presence("mcp.frozen.com"))
			assert.Equal(t, Absent, dir.Issuers().Presence(pairKey("frozen")))
		})
	}
}

// TestDirectoryLoadKeepsChangesMadeMeanwhile: events and reads that come in
// while a load runs are applied to what the load read, so a tenant
// created (or suspended) during a reload is not lost by it.
func TestDirectoryLoadKeepsChangesMadeMeanwhile(t *testing.T) {
	ms := memstore.New(memstore.Config{})
	ctx := context.Background()
	_, err := ms.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive})
	require.NoError(t, err)
	gate := &gatedDirectory{Directory: ms.Tenants(), listed: make(chan struct{}), release: make(chan struct{})}
	dir := NewDirectory(gate, DirectoryConfig{})
	loaded := make(chan error, 1)
	go func() { loaded <- dir.Load(ctx) }()
	<-gate.listed // the IDs are read: acme only

	_, err = ms.Tenants().Create(ctx, &tenant.Tenant{ID: "late", Name: "late", Status: tenant.StatusActive})
	require.NoError(t, err)
	dir.apply(store.Event{Type: store.EventCreated, TenantID: "late"})
	dir.learn("acme", &tenant.Tenant{ID: "acme", Status: tenant.StatusSuspended})
	close(gate.release)
	require.NoError(t, <-loaded)

	assert.Equal(t, Exists, dir.Presence("late"), "created while the load ran")
	assert.Equal(t, Inactive, dir.Presence("acme"), "learned while the load ran")
}

// gatedDirectory pauses a load after it has listed the IDs.
type gatedDirectory struct {
	store.Directory
	listed, release chan struct{}
}

func (g *gatedDirectory) TenantIDs(ctx context.Context, fn func([]string) error) error {
	err := g.Directory.TenantIDs(ctx, fn)
	close(g.listed)
	<-g.release
	return err
}

func TestDirectoryWaitAndReset(t *testing.T) {
	ms, dir := newLoaded(t, DirectoryConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, dir.Wait(ctx), "loaded")

	dir.apply(store.Event{Type: store.EventReset})
	short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
	defer stop()
	require.ErrorIs(t, dir.Wait(short), context.DeadlineExceeded, "a reset asks for a load that has not run yet")

	// Run serves the reset's request: a tenant created while the
	// subscription was broken is known after the reload.
	_, err := ms.Tenants().Create(ctx, &tenant.Tenant{ID: "missed", Name: "missed", Status: tenant.StatusActive})
	require.NoError(t, err)
	go func() { _ = dir.Run(ctx) }()
	require.NoError(t, dir.Wait(ctx))
	assert.Equal(t, Exists, dir.Presence("missed"))
}

// TestDirectoryFilter: above MaxExact the IDs are held in a filter, which
// never rules out a real tenant; made-up IDs are almost all ruled out.
func TestDirectoryFilter(t *testing.T) {
	const n = 5000
	var tenants []tenant.Tenant
	for i := range n {
		tenants = append(tenants, activeTenant(fmt.Sprintf("t%d", i)))
	}
	tenants = append(tenants, suspendedTenant("frozen"))
	_, dir := newLoaded(t, DirectoryConfig{MaxExact: 1000}, tenants...)
	st := dir.Stats()
	require.True(t, st.Approximate)
	assert.Equal(t, n+1, st.Tenants)
	assert.Positive(t, st.FilterBytes)
	for i := range n {
		require.Equal(t, MayExist, dir.Presence(fmt.Sprintf("t%d", i)), "a real tenant is never ruled out")
	}
	assert.Equal(t, Inactive, dir.Presence("frozen"), "inactive tenants are held exactly")
	wrong := 0
	for i := range 100_000 {
		if dir.Presence(fmt.Sprintf("made-up-%d", i)) != Absent {
			wrong++
		}
	}
	assert.LessOrEqual(t, wrong, 5, "false positives among 100,000 made-up IDs")
	t.Logf("filter: %d bytes for %d IDs, %d false positives in 100,000", st.FilterBytes, n+1, wrong)
}

// TestDirectoryDomainFilterUnsettled: above MaxExact domains, a host the
// filter does not hold is read, not refused, while a tenant named by an
// event has not been read yet: it may be that tenant's new domain.
func TestDirectoryDomainFilterUnsettled(t *testing.T) {
	const n = 1500
	var tenants []tenant.Tenant
	for i := range n {
		tenants = append(tenants, withDomain(activeTenant(fmt.Sprintf("t%d", i)), fmt.Sprintf("mcp%d.example.com", i)))
	}
	_, dir := newLoaded(t, DirectoryConfig{MaxExact: 1000}, tenants...)
	domains := dir.Domains()
	require.Equal(t, Absent, domains.Presence("mcp.new.example"), "a made-up host is refused")
	dir.apply(store.Event{Type: store.EventCreated, TenantID: "new"})
	assert.Equal(t, MayExist, domains.Presence("mcp.new.example"), "the new tenant's domain is read")
	fresh := withDomain(activeTenant("new"), "mcp.new.example")
	dir.learn("new", &fresh)
	assert.Equal(t, MayExist, domains.Presence("mcp.new.example"), "in the filter now")
	assert.Equal(t, Absent, domains.Presence("mcp.made-up.example"), "settled again: made-up hosts are refused")
}

// TestFloodOfMadeUpIDsCostsRealTenantsNothing is the flood of made-up
// tenant IDs: 10,000 concurrent requests over 2,000 IDs, on a cache whose
// miss budget alone would be spent in the first fiftieth of them. A tenant
// in the store that this replica never read (cold), one created just
// before the flood (fresh) and one changed just before it (edited) are
// served throughout; every made-up ID is a 404 without a store read.
func TestFloodOfMadeUpIDsCostsRealTenantsNothing(t *testing.T) {
	ms := memstore.New(memstore.Config{})
	ctx := context.Background()
	for _, id := range []string{"cold", "edited"} {
		_, err := ms.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err)
	}
	dir := NewDirectory(ms.Tenants(), DirectoryConfig{})
	reads := &countingTenants{Getter: ms.Tenants()}
	cache := NewCache(reads, CacheConfig{Known: dir, MissesPerSecond: 50})
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	// The cache's subscription reports the marks it has seen, so that the
	// test knows when every event before a mark has reached the cache.
	marks := make(chan string, 16)
	go func() {
		_ = ms.Subscribe(subCtx, func(e store.Event) {
			cache.Handle(e)
			if e.Type == store.EventSync {
				marks <- e.Mark
			}
		})
	}()
	go func() { _ = dir.Run(subCtx) }()
	require.NoError(t, dir.Wait(ctx))
	waitMark := func(mark string) {
		t.Helper()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		require.NoError(t, ms.Mark(ctx, mark))
		for {
			select {
			case m := <-marks:
				if m == mark {
					return
				}
			case <-tick.C: // the subscription may not have been made yet
				require.NoError(t, ms.Mark(ctx, mark))
			case <-time.After(5 * time.Second):
				t.Fatalf("mark %q never reached the cache", mark)
			}
		}
	}
	waitMark("subscribed")

	// Changes made elsewhere just before the flood; the flood starts once
	// their events have reached both the directory and the cache (an
	// event that reached the cache during the flood would cost it a
	// second read of the tenant).
	_, err := ms.Tenants().Create(ctx, &tenant.Tenant{ID: "fresh", Name: "fresh", Status: tenant.StatusActive})
	require.NoError(t, err)
	_, err = ms.Tenants().Update(ctx, &tenant.Tenant{ID: "edited", Name: "Edited", Status: tenant.StatusActive})
	require.NoError(t, err)
	waitMark("changed")
	require.Eventually(t, func() bool { return dir.Presence("fresh") == Exists }, 5*time.Second, time.Millisecond)
	before := reads.reads.Load()

	h := newTenantHandler(t, TenantConfig{Cache: cache})
	const requests, ids, workers = 10_000, 2_000, 8
	var next atomic.Int64
	var mu sync.Mutex
	statuses := map[string]map[int]int{"made-up": {}, "cold": {}, "fresh": {}, "edited": {}}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			local := map[string]map[int]int{"made-up": {}, "cold": {}, "fresh": {}, "edited": {}}
			for {
				i := next.Add(1)
				if i > requests {
					break
				}
				local["made-up"][serve(h, "X-Tenant-ID", fmt.Sprintf("flood-%d", i%ids)).Code]++
				if i%50 == 0 {
					for _, id := range []string{"cold", "fresh", "edited"} {
						local[id][serve(h, "X-Tenant-ID", id).Code]++
					}
				}
			}
			mu.Lock()
			for k, m := range local {
				for code, n := range m {
					statuses[k][code] += n
				}
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	during := reads.reads.Load() - before
	t.Logf("flood: statuses %v, store reads %d, cache %+v, directory %+v", statuses, during, cache.Stats(), dir.Stats())

	assert.Equal(t, map[int]int{http.StatusNotFound: requests}, statuses["made-up"], "made-up IDs: only 404")
	for _, id := range []string{"cold", "fresh", "edited"} {
		assert.Equal(t, map[int]int{http.StatusOK: requests / 50}, statuses[id], "%s is served throughout", id)
	}
	assert.LessOrEqual(t, during, int64(3), "at most one read per real tenant; none for a made-up ID")
	assert.EqualValues(t, requests, cache.Stats().RuledOut)
}

// heldTenants says when a read has begun and holds it until the test lets
// the reads go, so that an event can overtake a read that is provably on
// its way.
type heldTenants struct {
	Getter
	begun   chan string // the ID of each read begun
	release chan struct{}
}

func (h heldTenants) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	h.begun <- id
	<-h.release
	return h.Getter.Get(ctx, id)
}

// TestDirectoryLearnsDespiteOvertakingEvents: the read a created event
// starts is overtaken by the next event (of another tenant), which makes
// the cache drop its answer; the tenant is read again, so that the
// directory still learns its domain.
func TestDirectoryLearnsDespiteOvertakingEvents(t *testing.T) {
	ms, dir := newLoaded(t, DirectoryConfig{})
	ctx := context.Background()
	held := heldTenants{Getter: ms.Tenants(), begun: make(chan string, 16), release: make(chan struct{})}
	c := NewCache(held, CacheConfig{Known: dir})
	for _, id := range []string{"first", "second"} {
		_, err := ms.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Domain: "mcp." + id + ".com", Status: tenant.StatusActive})
		require.NoError(t, err)
		c.Handle(store.Event{Type: store.EventCreated, TenantID: id})
		require.Equal(t, id, <-held.begun, "its read is under way")
	}
	// The second event came in while the first tenant's read was held.
	close(held.release)
	require.Eventually(t, func() bool { return dir.Stats().Unsettled == 0 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "first", <-held.begun, "the first tenant, whose answer the second event made the cache drop, is read again")
	assert.Equal(t, Exists, dir.Domains().Presence("mcp.first.com"))
	assert.Equal(t, Exists, dir.Domains().Presence("mcp.second.com"))
}

// synthetic is a store.Directory of n made-up tenants, a thousand of them
// inactive, a thousand with a custom domain and a thousand with an issuer
// and audience.
type synthetic struct{ n int }

func (s synthetic) list(fn func([]string) error, n int, name func(int) string) error {
	page := make([]string, 0, store.DirectoryBatch)
	for i := range n {
		page = append(page, name(i))
		if len(page) == store.DirectoryBatch || i == n-1 {
			if err := fn(page); err != nil {
				return err
			}
			page = page[:0]
		}
	}
	return nil
}

func (s synthetic) TenantIDs(_ context.Context, fn func([]string) error) error {
	return s.list(fn, s.n, func(i int) string { return fmt.Sprintf("tenant-%07d", i) })
}

func (s synthetic) InactiveIDs(_ context.Context, fn func([]string) error) error {
	return s.list(fn, 1000, func(i int) string { return fmt.Sprintf("tenant-%07d", i*7) })
}

func (s synthetic) Domains(_ context.Context, fn func(hosts, ids []string) error) error {
	hosts := make([]string, 1000)
	ids := make([]string, 1000)
	for i := range hosts {
		hosts[i], ids[i] = fmt.Sprintf("mcp.tenant-%07d.example.com", i*11), fmt.Sprintf("tenant-%07d", i*11)
	}
	return fn(hosts, ids)
}

func (s synthetic) Issuers(_ context.Context, fn func(pairs, ids []string) error) error {
	pairs := make([]string, 1000)
	ids := make([]string, 1000)
	for i := range pairs {
		id := fmt.Sprintf("tenant-%07d", i*13)
		pairs[i], ids[i] = store.IssuerPair("https://idp.example.com/"+id, "mcp"), id
	}
	return fn(pairs, ids)
}

// TestDirectoryMemory measures the heap a loaded directory holds, exact
// (100,000 tenants) and in a filter (1,000,000), and checks the bounds the
// documentation gives.
func TestDirectoryMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a million IDs")
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, tt := range []struct {
		tenants  int
		perID    float64 // bytes per tenant, at most
		filtered bool
	}{
		{100_000, 80, false},
		{1_000_000, 12, true},
	} {
		before := heap()
		dir := NewDirectory(synthetic{tt.tenants}, DirectoryConfig{})
		start := time.Now()
		require.NoError(t, dir.Load(context.Background()))
		took := time.Since(start)
		held := heap() - before
		st := dir.Stats()
		assert.Equal(t, tt.filtered, st.Approximate)
		assert.Equal(t, 1000, st.Inactive)
		assert.Equal(t, Inactive, dir.Presence("tenant-0000007"))
		assert.Equal(t, Inactive, dir.Domains().Presence("mcp.tenant-0000077.example.com"))
		assert.NotEqual(t, Absent, dir.Presence(fmt.Sprintf("tenant-%07d", tt.tenants-1)))
		t.Logf("%d tenants: %.1f MiB held (%.1f bytes per tenant; filter %d bytes), loaded in %v",
			tt.tenants, float64(held)/(1<<20), float64(held)/float64(tt.tenants), st.FilterBytes, took.Round(time.Millisecond))
		assert.LessOrEqual(t, float64(held)/float64(tt.tenants), tt.perID)
		runtime.KeepAlive(dir)
	}
}

// TestDirectorySettlesAfterAFailedRead: the read an event starts fails
// (the store is briefly unreachable), which leaves the tenant unsettled
// and every made-up domain to be read rather than refused. The cache reads
// it again, RetryInterval later, and the directory settles once the store
// is back, not at its next reload.
func TestDirectorySettlesAfterAFailedRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, dir := newLoaded(t, DirectoryConfig{})
		src := newFakeTenants(withDomain(activeTenant("new"), "mcp.new.com"))
		src.down.Store(true)
		c := NewCache(src, CacheConfig{Known: dir, RetryInterval: time.Second})

		c.Handle(store.Event{Type: store.EventCreated, TenantID: "new"})
		synctest.Wait()
		assert.Equal(t, 1, dir.Stats().Unsettled, "the read failed")
		assert.Equal(t, MayExist, dir.Domains().Presence("made.up.com"), "made-up domains are read while a tenant is unsettled")

		time.Sleep(3500 * time.Millisecond) // two more attempts, at 1 s and 3 s, fail too
		synctest.Wait()
		assert.EqualValues(t, 3, src.reads.Load())
		src.down.Store(false)
		time.Sleep(4 * time.Second) // the next attempt, at 7 s
		synctest.Wait()
		assert.EqualValues(t, 4, src.reads.Load())
		assert.Equal(t, 0, dir.Stats().Unsettled)
		assert.Equal(t, Exists, dir.Domains().Presence("mcp.new.com"))
		assert.Equal(t, Absent, dir.Domains().Presence("made.up.com"))

		time.Sleep(time.Hour)
		synctest.Wait()
		assert.EqualValues(t, 4, src.reads.Load(), "no read once settled")
	})
}

// TestDirectorySettleGivesUp: a store that stays down gets a bounded
// number of reads per event, and a tenant settled meanwhile (by a
// request's read) ends the attempts.
func TestDirectorySettleGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, dir := newLoaded(t, DirectoryConfig{})
		src := newFakeTenants(activeTenant("new"))
		src.down.Store(true)
		c := NewCache(src, CacheConfig{Known: dir, RetryInterval: time.Second})
		c.Handle(store.Event{Type: store.EventCreated, TenantID: "new"})
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		assert.EqualValues(t, settleAttempts, src.reads.Load())
		assert.Equal(t, 1, dir.Stats().Unsettled, "the directory's reload settles it now")

		src2 := newFakeTenants(activeTenant("other"))
		src2.down.Store(true)
		c2 := NewCache(src2, CacheConfig{Known: dir, RetryInterval: time.Second})
		c2.Handle(store.Event{Type: store.EventCreated, TenantID: "other"})
		synctest.Wait()
		dir.learn("other", &tenant.Tenant{ID: "other", Status: tenant.StatusActive})
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.EqualValues(t, 1, src2.reads.Load(), "settled by another read: no attempt after")
	})
}

// TestDirectoryLoadsOncePerReset: a reset that comes before a load starts
// is answered by that load; the reload it asked for is not made again, so
// a replica starting up reads its directory once, not twice. A reset
// after the load, and the reload interval, each cause one load.
func TestDirectoryLoadsOncePerReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := memstore.New(memstore.Config{})
		dir := NewDirectory(ms.Tenants(), DirectoryConfig{ReloadInterval: time.Hour})
		dir.apply(store.Event{Type: store.EventReset})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = dir.Run(ctx) }()
		synctest.Wait()
		require.NoError(t, dir.Wait(ctx))
		assert.EqualValues(t, 1, dir.Stats().Loads, "the first load started after the reset")

		dir.apply(store.Event{Type: store.EventReset})
		synctest.Wait()
		assert.EqualValues(t, 2, dir.Stats().Loads, "a reset after the load: one more")

		time.Sleep(time.Hour)
		synctest.Wait()
		assert.EqualValues(t, 3, dir.Stats().Loads, "the reload interval: one more")
		cancel()
		synctest.Wait()
	})
}
