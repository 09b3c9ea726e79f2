package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

// Allow takes one request from the budget of key within the tenant: limit
// requests per minute with a burst of limit, by the generic cell rate
// algorithm. The arithmetic is redisstore's limiter script, step for step,
// in integer microseconds, so both answer the same at the same clock
// readings. A limit <= 0 means unlimited: the request is allowed and
// nothing is stored.
func (s *Store) Allow(ctx context.Context, tenantID, key string, limit int) (store.Decision, error) {
	if err := check(ctx, tenantID); err != nil {
		return store.Decision{}, err
	}
	if err := store.ValidKey(key); err != nil {
		return store.Decision{}, fmt.Errorf("memstore: limiter key: %w", err)
	}
	if limit <= 0 {
		return store.Decision{Allowed: true}, nil
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
	d, newTAT := gcra(nowUs, tat, limit)
	if d.Allowed {
		// Like the script's SET ... PX: the state lives until the bucket
		// would be full again, rounded up to the millisecond.
		ttlMs := (newTAT - nowUs + 999) / 1000
		s.keys[k] = &entry{tat: newTAT, expireAt: nowMs + ttlMs}
	}
	return d, nil
}

// gcra decides one request at now with the stored theoretical arrival time
// tat (both unix microseconds; tat 0 when there is no state) and returns the
// decision and the new tat to store when the request is allowed.
//
// The emission interval is a minute divided by limit, the tolerance is
// limit intervals (the burst). Keep in sync with redisstore's gcra.lua.
func gcra(now, tat int64, limit int) (store.Decision, int64) {
	interval := int64(60_000_000) / int64(limit)
	if interval < 1 {
		interval = 1
	}
	tolerance := interval * int64(limit)
	tat = max(tat, now)
	newTAT := tat + interval
	if allowAt := newTAT - tolerance; now < allowAt {
		return store.Decision{
			Limit:      limit,
			RetryAfter: time.Duration(allowAt-now) * time.Microsecond,
			Reset:      time.Duration(tat-now) * time.Microsecond,
		}, 0
	}
	return store.Decision{
		Allowed:   true,
		Limit:     limit,
		Remaining: int((tolerance - (newTAT - now)) / interval),
		Reset:     time.Duration(newTAT-now) * time.Microsecond,
	}, newTAT
}
