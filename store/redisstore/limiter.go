package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Allow takes one request from the budget of key within the tenant: limit
// requests per minute with a burst of limit, by the generic cell rate
// algorithm (see lua/gcra.lua). One round trip, atomic, on the server's
// clock; the state lives under the tenant's namespace, so a cascade delete
// removes it, and expires once the burst is full again. A limit <= 0 means
// unlimited: the request is allowed without asking Redis.
func (s *Store) Allow(ctx context.Context, tenantID, key string, limit int) (store.Decision, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return store.Decision{}, fmt.Errorf("redisstore: %w", err)
	}
	if err := store.ValidKey(key); err != nil {
		return store.Decision{}, fmt.Errorf("redisstore: limiter key: %w", err)
	}
	if limit <= 0 {
		return store.Decision{Allowed: true}, nil
	}
	res, err := gcraScript.Run(ctx, s.rdb, []string{keys.RateLimit(tenantID, key)}, limit).Int64Slice()
	if err != nil {
		return store.Decision{}, fmt.Errorf("redisstore: rate limit of %q: %w", tenantID, err)
	}
	if len(res) != 4 {
		return store.Decision{}, fmt.Errorf("redisstore: rate limit of %q: unexpected answer %v", tenantID, res)
	}
	return store.Decision{
		Allowed:    res[0] == 1,
		Limit:      limit,
		Remaining:  int(res[1]),
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
		Reset:      time.Duration(res[3]) * time.Microsecond,
	}, nil
}
