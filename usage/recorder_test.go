package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

type fixture struct {
	rec   *Recorder
	st    *memstore.Store
	clock *testclock.Clock
	logs  *testlog.Buffer
}

func newFixture(t *testing.T, tenants ...string) *fixture {
	t.Helper()
	f := &fixture{
		st:    memstore.New(memstore.Config{}),
		clock: testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)),
		logs:  &testlog.Buffer{},
	}
	for _, id := range tenants {
		_, err := f.st.Tenants().Create(t.Context(), &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err)
	}
	rec, err := New(Config{Store: f.st.Usage(), Now: f.clock.Now, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	require.NoError(t, err)
	f.rec = rec
	return f
}

func (f *fixture) report(t *testing.T, id, from, to string) *Report {
	t.Helper()
	rep, err := Read(t.Context(), f.st.Usage(), id, from, to)
	require.NoError(t, err)
	return rep
}

func TestNewRequiresStore(t *testing.T) {
	_, err := New(Config{})
	require.ErrorIs(t, err, ErrConfig)
}

func TestCountsEveryKind(t *testing.T) {
	f := newFixture(t, "acme", "globex")
	r := f.rec
	for range 3 {
		r.Served("acme")
	}
	r.RateLimited("acme")
	r.AuthRefused("acme")
	r.AuthRefused("acme")
	r.SessionOpened("acme")
	r.Login("acme")
	r.ToolCall("acme", "whoami")
	r.ToolCall("acme", "whoami")
	r.ToolCall("acme", "bad name") // not a tool name: other
	r.ToolCall("acme", "")
	r.Served("globex")
	r.Served("Not-An-ID") // ignored, never a key
	r.ToolCall("bad id", "whoami")
	require.NoError(t, r.Flush(t.Context()))

	rep := f.report(t, "acme", "2026-01-05", "2026-01-05")
	want := store.UsageCounts{Served: 3, RateLimited: 1, AuthRefused: 2, SessionsOpened: 1, Logins: 1,
		ToolCalls: map[string]int64{"whoami": 2, "other": 2}}
	assert.Equal(t, want, rep.Days[0].UsageCounts)
	assert.Equal(t, want, rep.Total)
	assert.Equal(t, int64(1), f.report(t, "globex", "2026-01-05", "2026-01-05").Total.Served)
	assert.Equal(t, 4, f.st.Len()-3, "a usage day and a writer marker per tenant besides the two records and the index: nothing for the bad IDs")
}

func TestNilRecorderCountsNothing(t *testing.T) {
	var r *Recorder
	assert.NotPanics(t, func() {
		r.Served("acme")
		r.RateLimited("acme")
		r.AuthRefused("acme")
		r.SessionOpened("acme")
		r.Login("acme")
		r.ToolCall("acme", "x")
		r.Start()
		require.NoError(t, r.Flush(t.Context()))
		require.NoError(t, r.Close(t.Context()))
	})
}

// TestCountingDoesNotAllocate is the hot path's promise: once a tenant's
// tally of the day exists, counting allocates nothing.
func TestCountingDoesNotAllocate(t *testing.T) {
	f := newFixture(t, "acme")
	r := f.rec
	id := "acme"
	for name, fn := range map[string]func(){
		"Served":        func() { r.Served(id) },
		"RateLimited":   func() { r.RateLimited(id) },
		"AuthRefused":   func() { r.AuthRefused(id) },
		"SessionOpened": func() { r.SessionOpened(id) },
		"Login":         func() { r.Login(id) },
		"ToolCall":      func() { r.ToolCall(id, "whoami") },
	} {
		assert.Zero(t, testing.AllocsPerRun(1000, fn), name)
	}
}

func TestDaysFollowTheUTCClock(t *testing.T) {
	f := newFixture(t, "acme")
	f.clock.Advance(12*time.Hour - time.Second) // 23:59:59
	assert.Equal(t, time.Second, f.rec.roll(), "until midnight")
	f.rec.Served("acme")
	f.clock.Advance(time.Second)
	assert.Equal(t, 24*time.Hour, f.rec.roll(), "midnight: the next day")
	f.rec.Served("acme")
	f.rec.Served("acme")
	// One write after midnight still puts the first count on its day.
	require.NoError(t, f.rec.Flush(t.Context()))
	rep := f.report(t, "acme", "2026-01-05", "2026-01-06")
	assert.Equal(t, int64(1), rep.Days[0].Served)
	assert.Equal(t, int64(2), rep.Days[1].Served)
	assert.Equal(t, int64(3), rep.Total.Served)
}

// TestConcurrentCountsAreExact counts from many goroutines while writes run
// beside them: every count lands in exactly one write.
// TestStartMovesToTheNextDay checks the loop's midnight timer: counts
// move to the new day when the day ends, without a write.
func TestStartMovesToTheNextDay(t *testing.T) {
	f := newFixture(t, "acme")
	f.clock.Advance(12*time.Hour - 50*time.Millisecond) // 23:59:59.95
	r, err := New(Config{Store: f.st.Usage(), Interval: time.Hour, Now: f.clock.Now})
	require.NoError(t, err)
	r.Start()
	r.Served("acme")
	f.clock.Advance(time.Second)
	require.Eventually(t, func() bool { return r.today() == f.rec.today()+1 }, 10*time.Second, time.Millisecond)
	r.Served("acme")
	require.NoError(t, r.Close(t.Context()))
	rep := f.report(t, "acme", "2026-01-05", "2026-01-06")
	assert.Equal(t, int64(1), rep.Days[0].Served)
	assert.Equal(t, int64(1), rep.Days[1].Served)
}

func TestConcurrentCountsAreExact(t *testing.T) {
	f := newFixture(t, "acme", "globex")
	const workers, each = 8, 5000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	flushed := make(chan error, 1)
	go func() {
		var err error
		for {
			select {
			case <-stop:
				flushed <- err
				return
			default:
				if e := f.rec.Flush(context.Background()); e != nil {
					err = e
				}
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			id := []string{"acme", "globex"}[w%2]
			for i := range each {
				f.rec.Served(id)
				if i%10 == 0 {
					f.rec.ToolCall(id, "whoami")
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	require.NoError(t, <-flushed)
	require.NoError(t, f.rec.Flush(t.Context()))
	for _, id := range []string{"acme", "globex"} {
		rep := f.report(t, id, "2026-01-05", "2026-01-05")
		assert.Equal(t, int64(workers/2*each), rep.Total.Served, id)
		assert.Equal(t, int64(workers/2*each/10), rep.Total.ToolCalls["whoami"], id)
	}
}

func TestToolNamesBoundedInMemory(t *testing.T) {
	f := newFixture(t, "acme")
	for i := range 100 {
		f.rec.ToolCall("acme", fmt.Sprintf("tool-%03d", i))
	}
	f.rec.ToolCall("acme", "tool-000")
	for i := range f.rec.shards {
		for _, tl := range f.rec.shards[i].m {
			assert.Len(t, tl.tools, store.MaxToolNames+1, "64 names and other")
		}
	}
	require.NoError(t, f.rec.Flush(t.Context()))
	calls := f.report(t, "acme", "2026-01-05", "2026-01-05").Total.ToolCalls
	assert.Equal(t, int64(2), calls["tool-000"])
	assert.Equal(t, int64(36), calls["other"])
}

// flaky is a store whose writes fail on demand; lost applies the batch
// before failing, as a connection that drops after Redis ran the write.
type flaky struct {
	store.Usage
	fail, lost atomic.Bool
	batches    []uint64
	mu         sync.Mutex
}

var errDown = errors.New("redis down")

func (f *flaky) Add(ctx context.Context, b store.UsageBatch) error {
	f.mu.Lock()
	f.batches = append(f.batches, b.Seq)
	f.mu.Unlock()
	if f.lost.Load() {
		if err := f.Usage.Add(ctx, b); err != nil {
			return err
		}
		return errDown
	}
	if f.fail.Load() {
		return errDown
	}
	return f.Usage.Add(ctx, b)
}

func TestFailedWritesAreRetriedOnce(t *testing.T) {
	f := newFixture(t, "acme")
	st := &flaky{Usage: f.st.Usage()}
	f.rec.store = st

	f.rec.Served("acme")
	st.lost.Store(true) // written, but the answer never came
	require.ErrorIs(t, f.rec.Flush(t.Context()), errDown)
	st.lost.Store(false)
	st.fail.Store(true) // Redis down
	f.rec.Served("acme")
	require.ErrorIs(t, f.rec.Flush(t.Context()), errDown)
	f.rec.Served("acme")
	st.fail.Store(false)
	require.NoError(t, f.rec.Flush(t.Context()))

	assert.Equal(t, int64(3), f.report(t, "acme", "2026-01-05", "2026-01-05").Total.Served,
		"the batch whose answer was lost counts once, and nothing counted during the outage is lost")
	assert.Equal(t, []uint64{1, 1, 1, 2}, st.batches, "the failed batch is sent again unchanged before the next one")
}

func TestMalformedBatchIsDropped(t *testing.T) {
	f := newFixture(t, "acme")
	f.rec.writer = "not a key" // the store refuses every batch of this writer
	f.rec.Served("acme")
	require.ErrorIs(t, f.rec.Flush(t.Context()), store.ErrUsageBatch)
	assert.Nil(t, f.rec.pending, "a batch the store will never take is not sent forever")
	assert.Contains(t, f.logs.String(), "refused by the store")
}

func TestIdleTalliesAreDropped(t *testing.T) {
	f := newFixture(t, "acme", "globex")
	f.rec.Served("acme")
	f.rec.Served("globex")
	require.NoError(t, f.rec.Flush(t.Context()))
	assert.Equal(t, int64(2), f.rec.tallies.Load(), "kept through one quiet interval")
	f.rec.Served("acme")
	require.NoError(t, f.rec.Flush(t.Context()))
	assert.Equal(t, int64(2), f.rec.tallies.Load())
	require.NoError(t, f.rec.Flush(t.Context()))
	assert.Equal(t, int64(1), f.rec.tallies.Load(), "globex was quiet for two intervals")
	f.rec.Served("acme")
	f.clock.Advance(24 * time.Hour)
	require.NoError(t, f.rec.Flush(t.Context()))
	require.NoError(t, f.rec.Flush(t.Context()))
	assert.Zero(t, f.rec.tallies.Load(), "a past day goes once written")
}

func TestMaxTenantsBoundsMemory(t *testing.T) {
	f := newFixture(t)
	r, err := New(Config{Store: f.st.Usage(), MaxTenants: 3, Now: f.clock.Now, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	require.NoError(t, err)
	for i := range 10 {
		r.Served(fmt.Sprintf("t%d", i))
		r.Served(fmt.Sprintf("t%d", i))
	}
	assert.Equal(t, int64(3), r.tallies.Load())
	require.NoError(t, r.Flush(t.Context()))
	assert.Contains(t, f.logs.String(), "dropped=14")
}

func TestCloseWritesTheLastCounts(t *testing.T) {
	f := newFixture(t, "acme")
	f.rec.Start()
	f.rec.Served("acme")
	require.NoError(t, f.rec.Close(t.Context()))
	assert.Equal(t, int64(1), f.report(t, "acme", "2026-01-05", "2026-01-05").Total.Served)
	require.ErrorIs(t, f.rec.Close(t.Context()), ErrClosed)
}

func TestStartWritesEveryInterval(t *testing.T) {
	f := newFixture(t, "acme")
	r, err := New(Config{Store: f.st.Usage(), Interval: 10 * time.Millisecond, Now: f.clock.Now})
	require.NoError(t, err)
	r.Start()
	r.Start()
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	r.Served("acme")
	require.Eventually(t, func() bool {
		return f.report(t, "acme", "2026-01-05", "2026-01-05").Total.Served == 1
	}, 10*time.Second, 5*time.Millisecond, "written without a Flush or Close")
}

func TestReportRange(t *testing.T) {
	f := newFixture(t, "acme")
	_, err := Read(t.Context(), f.st.Usage(), "acme", "2026-01-06", "2026-01-05")
	require.ErrorIs(t, err, store.ErrDateRange)
	rep := f.report(t, "acme", "2026-01-01", "2026-01-31")
	assert.Len(t, rep.Days, 31)
	assert.Equal(t, "acme", rep.Tenant)
	assert.NotNil(t, rep.Total.ToolCalls)
}

func BenchmarkServed(b *testing.B) {
	r, err := New(Config{Store: memstore.New(memstore.Config{}).Usage()})
	require.NoError(b, err)
	r.Served("acme")
	b.ReportAllocs()
	for b.Loop() {
		r.Served("acme")
	}
}

func BenchmarkServedParallel(b *testing.B) {
	r, err := New(Config{Store: memstore.New(memstore.Config{}).Usage()})
	require.NoError(b, err)
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprintf("tenant-%d", i)
		r.Served(ids[i])
	}
	b.ReportAllocs()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		id := ids[n.Add(1)%int64(len(ids))]
		for pb.Next() {
			r.Served(id)
		}
	})
}
