package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

var _ store.Leaser = (*Store)(nil)

// Allow takes one request from the budget of key within the tenant: limit
// requests per minute with a burst of limit, by the generic cell rate
// algorithm (see lua/gcra.lua). One round trip, atomic, on the server's
// clock; the state lives under the tenant's namespace, so a cascade delete
// removes it, and expires once the burst is full again. A limit <= 0 means
// unlimited: the request is allowed without asking Redis.
func (s *Store) Allow(ctx context.Context, tenantID, key string, limit int) (store.Decision, error) {
	l, err := s.take(ctx, tenantID, key, limit, 1, 0)
	return l.Decision, err
}

// Lease gives back unused requests of an earlier lease and takes up to want
// from the budget that [Store.Allow] draws from, in one round trip: the
// same script, run on the tenant's hash slot, so it is atomic on a cluster
// too. A limit <= 0 means unlimited: all of want is granted without asking
// Redis.
func (s *Store) Lease(ctx context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	if want < 0 || unused < 0 {
		return store.Lease{}, fmt.Errorf("redisstore: lease of %d giving back %d: %w", want, unused, store.ErrInvalidCount)
	}
	return s.take(ctx, tenantID, key, limit, want, unused)
}

// take runs the limiter script.
func (s *Store) take(ctx context.Context, tenantID, key string, limit, want, unused int) (store.Lease, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return store.Lease{}, fmt.Errorf("redisstore: %w", err)
	}
	if err := store.ValidKey(key); err != nil {
		return store.Lease{}, fmt.Errorf("redisstore: limiter key: %w", err)
	}
	if limit <= 0 {
		return store.Lease{Granted: want, Decision: store.Decision{Allowed: want > 0}}, nil
	}
	res, err := gcraScript.Run(ctx, s.rdb, []string{keys.RateLimit(tenantID, key)}, limit, want, unused).Int64Slice()
	if err != nil {
		return store.Lease{}, fmt.Errorf("redisstore: rate limit of %q: %w", tenantID, err)
	}
	if len(res) != 4 || res[0] < 0 || res[0] > int64(want) {
		return store.Lease{}, fmt.Errorf("redisstore: rate limit of %q: unexpected answer %v", tenantID, res)
	}
	return store.Lease{
		Granted: int(res[0]),
		Decision: store.Decision{
			Allowed:    res[0] > 0,
			Limit:      limit,
			Remaining:  int(res[1]),
			RetryAfter: time.Duration(res[2]) * time.Microsecond,
			Reset:      time.Duration(res[3]) * time.Microsecond,
		},
	}, nil
}
