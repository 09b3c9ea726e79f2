package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/seedmcp/tenancy/store"
)

// ErrClosed is returned by [Recorder.Close] when it was called before.
var ErrClosed = errors.New("usage: recorder closed")

// Start writes the counts every interval from now on, in a goroutine of
// its own, until [Recorder.Close]. Calling it again does nothing.
func (r *Recorder) Start() {
	if r == nil {
		return
	}
	r.startOnce.Do(func() {
		r.started.Store(true)
		go r.loop()
	})
}

// Close stops the periodic writes and writes what was counted until now,
// within ctx. Counts made after Close are kept in memory until a Flush.
// It returns the last write's error.
func (r *Recorder) Close(ctx context.Context) error {
	if r == nil {
		return nil
	}
	err := ErrClosed
	r.closeOnce.Do(func() {
		close(r.stop)
		if r.started.Load() {
			<-r.done
		}
		err = r.Flush(ctx)
		if err != nil {
			r.log.LogAttrs(ctx, slog.LevelError, "usage: counts not written at close",
				slog.String("error", err.Error()), slog.Int64("tenantDays", r.tallies.Load()))
		}
	})
	return err
}

// loop writes every interval until stop, and moves the counts to the
// next day when the day ends.
func (r *Recorder) loop() {
	defer close(r.done)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	midnight := time.NewTimer(r.roll())
	defer midnight.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-midnight.C:
			// A timer that fires a little early finds the old day with
			// moments left, and is set again for them; one that fires
			// late leaves the counts made meanwhile on the day before.
			midnight.Reset(r.roll())
		case <-tick.C:
			// A write gets one interval: a slower one would only pile up
			// behind itself.
			ctx, cancel := context.WithTimeout(context.Background(), r.interval)
			if err := r.Flush(ctx); err != nil {
				r.log.LogAttrs(ctx, slog.LevelWarn, "usage: counts not written; retried at the next interval",
					slog.String("error", err.Error()))
			}
			cancel()
		}
	}
}

// Flush writes what was counted since the last write, in one batch (one
// pipeline on Redis). A batch whose write failed is sent again, unchanged,
// before anything newer, and the store applies it once; the counts made
// meanwhile stay in memory for the next batch.
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	if r.pending != nil {
		if err := r.store.Add(ctx, *r.pending); err != nil {
			return r.failed(err)
		}
		r.pending = nil
	}
	if n := r.dropped.Swap(0); n > 0 {
		r.log.LogAttrs(ctx, slog.LevelWarn, "usage: counts dropped: more tenants and days than MaxTenants between two writes",
			slog.Int64("dropped", n), slog.Int64("maxTenants", r.maxTenants))
	}
	// The clock is read here as well as at midnight, so that a recorder
	// without Start, or one whose midnight timer fired early, still moves
	// to the new day.
	r.roll()
	deltas := r.drain()
	if len(deltas) == 0 {
		return nil
	}
	r.seq++
	b := store.UsageBatch{Writer: r.writer, Seq: r.seq, Deltas: deltas}
	if err := r.store.Add(ctx, b); err != nil {
		r.pending = &b
		return r.failed(err)
	}
	return nil
}

// failed handles a write's error. A batch the store calls malformed will
// never be accepted: it is dropped (and logged) rather than sent forever.
func (r *Recorder) failed(err error) error {
	if errors.Is(err, store.ErrUsageBatch) {
		r.log.Error("usage: batch refused by the store and dropped", "error", err)
		r.pending = nil
	}
	return fmt.Errorf("usage: write counts: %w", err)
}

// drain takes every tally's counts, leaving them at zero, and drops the
// tallies of past days and those that were empty twice in a row. It holds
// each shard's write lock in turn, so no count is in flight while its
// tally is emptied: nothing is lost or taken twice.
func (r *Recorder) drain() []store.UsageDelta {
	today := r.today()
	var out []store.UsageDelta
	take := func(t *tally) (store.UsageCounts, bool) {
		c := store.UsageCounts{
			Served:         t.n[served].Swap(0),
			RateLimited:    t.n[rateLimited].Swap(0),
			AuthRefused:    t.n[authRefused].Swap(0),
			SessionsOpened: t.n[sessionsOpened].Swap(0),
			Logins:         t.n[logins].Swap(0),
		}
		t.mu.Lock()
		c.ToolCalls, t.tools = t.tools, nil
		t.mu.Unlock()
		if c.Zero() {
			return c, false
		}
		out = append(out, store.UsageDelta{TenantID: t.tenant, Date: date(t.day), UsageCounts: c})
		return c, true
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		// A past tally is out of the map: no count reaches it any more.
		for _, t := range sh.past {
			take(t)
		}
		r.tallies.Add(-int64(len(sh.past)))
		clear(sh.past)
		sh.past = sh.past[:0]
		for id, t := range sh.m {
			if _, counted := take(t); counted {
				t.idle = false
				continue
			}
			if t.idle || t.day < today {
				delete(sh.m, id)
				r.tallies.Add(-1)
			}
			t.idle = true
		}
		sh.mu.Unlock()
	}
	return out
}

// date formats a day since the Unix epoch as a usage date.
func date(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format(store.DateLayout)
}
