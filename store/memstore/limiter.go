package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

var _ store.Leaser = (*Store)(nil)

// Allow takes one request from the budget of key within the tenant: limit
// requests per minute with a burst of limit, by the generic cell rate
// algorithm. The arithmetic is redisstore's limiter script, step for step,
// in integer microseconds, so both answer the same at the same clock
// readings. A limit <= 0 means unlimited: the request is allowed and
// nothing is stored.
func (s *Store) Allow(ctx context.Context, tenantID, key string, limit int) (store.Decision, error) {
	l, err := s.take(ctx, tenantID, key, limit, 1, 0)
	return l.Decision, err
}

// Lease gives back unused requests of an earlier lease and takes up to want
// from the budget that [Store.Allow] draws from, atomically. A limit <= 0
// means unlimited: all of want is granted and nothing is stored.
func (s *Store) Lease(ctx context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	if want < 0 || unused < 0 {
		return store.Lease{}, fmt.Errorf("memstore: lease of %d giving back %d: %w", want, unused, store.ErrInvalidCount)
	}
	return s.take(ctx, tenantID, key, limit, want, unused)
}

// take is Allow and Lease: the limiter script of redisstore.
func (s *Store) take(ctx context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	if err := check(ctx, tenantID); err != nil {
		return store.Lease{}, err
	}
	if err := store.ValidKey(key); err != nil {
		return store.Lease{}, fmt.Errorf("memstore: limiter key: %w", err)
	}
	if limit <= 0 {
		return store.Lease{Granted: want, Decision: store.Decision{Allowed: want > 0}}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	nowUs := s.clock().UnixMicro()
	nowMs := nowUs / 1000
	k := keys.RateLimit(tenantID, key)
	var tat int64
	if e := s.get(k, nowMs); e != nil {
		tat = e.tat
	}
	l, newTAT := gcra(nowUs, tat, limit, want, unused)
	switch {
	case l.Granted == 0 && unused == 0:
		// Nothing changed: like the script, store nothing.
	case newTAT > nowUs:
		// Like the script's SET ... PX: the state lives until the bucket
		// would be full again, rounded up to the millisecond.
		ttlMs := (newTAT - nowUs + 999) / 1000
		s.keys[k] = &entry{tat: newTAT, expireAt: nowMs + ttlMs}
	default:
		delete(s.keys, k)
	}
	return l, nil
}

// gcra gives back unused requests and takes up to want at now, with the
// stored theoretical arrival time tat (both unix microseconds; tat 0 when
// there is no state), and returns the lease and the new tat.
//
// The emission interval is a minute divided by limit, the tolerance is
// limit intervals (the burst). Keep in sync with redisstore's gcra.lua.
func gcra(now, tat int64, limit, want, unused int) (store.Lease, int64) {
	interval := int64(60_000_000) / int64(limit)
	if interval < 1 {
		interval = 1
	}
	tolerance := interval * int64(limit)
	tat = max(tat, now)
	if unused > 0 {
		tat = max(tat-int64(unused)*interval, now)
	}
	available := max((now+tolerance-tat)/interval, 0)
	granted := min(int64(want), available)
	newTAT := tat + granted*interval
	if granted == 0 && want > 0 {
		return store.Lease{Decision: store.Decision{
			Limit:      limit,
			RetryAfter: time.Duration(tat+interval-tolerance-now) * time.Microsecond,
			Reset:      time.Duration(tat-now) * time.Microsecond,
		}}, newTAT
	}
	return store.Lease{
		Granted: int(granted),
		Decision: store.Decision{
			Allowed:   granted > 0,
			Limit:     limit,
			Remaining: int(available - granted),
			Reset:     time.Duration(newTAT-now) * time.Microsecond,
		},
	}, newTAT
}
