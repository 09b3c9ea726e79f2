package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// auditField is the stream entry's field that holds the event.
const auditField = "e"

// lastStreamID is the greatest stream ID, after which XRANGE refuses an
// exclusive start.
const lastStreamID = "18446744073709551615-18446744073709551615"

// Append adds e to the tenant's stream with XADD MAXLEN ~ maxLen, in a
// script that first checks the tenant exists. One round trip. Redis trims
// whole nodes of a stream, so a trail holds between maxLen and maxLen plus
// stream-node-max-entries (default 100) events.
func (a *Audit) Append(ctx context.Context, tenantID string, e store.AuditEvent, maxLen int) (string, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return "", fmt.Errorf("redisstore: %w", err)
	}
	if maxLen <= 0 {
		maxLen = store.DefaultAuditLength
	}
	e.ID = ""
	data, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("redisstore: encode audit event: %w", err)
	}
	id, err := auditScript.Run(ctx, a.s.rdb, []string{keys.Metadata(tenantID), keys.Audit(tenantID)}, maxLen, data).Text()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redisstore: audit of %q: %w", tenantID, store.ErrTenantNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: audit of %q: %w", tenantID, err)
	}
	return id, nil
}

// Read returns up to limit events after the cursor with XRANGE. One round
// trip.
func (a *Audit) Read(ctx context.Context, tenantID, after string, limit int) ([]store.AuditEvent, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	start := "-"
	if after != "" {
		if !store.ValidAuditCursor(after) {
			return nil, fmt.Errorf("redisstore: %w", store.ErrAuditCursor)
		}
		// Written as Redis writes IDs: it refuses the greatest ID as a
		// start with zeros in front, and the others name the same entry.
		ms, seq, _ := strings.Cut(after, "-")
		a, _ := strconv.ParseUint(ms, 10, 64)
		b, _ := strconv.ParseUint(seq, 10, 64)
		after = strconv.FormatUint(a, 10) + "-" + strconv.FormatUint(b, 10)
		if after == lastStreamID {
			return []store.AuditEvent{}, nil // nothing can follow it
		}
		start = "(" + after // exclusive: Redis 6.2 or later
	}
	msgs, err := a.s.rdb.XRangeN(ctx, keys.Audit(tenantID), start, "+", int64(store.AuditPage(limit))).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: read audit of %q: %w", tenantID, err)
	}
	events := make([]store.AuditEvent, len(msgs))
	for i, m := range msgs {
		// An entry this package did not write keeps its place (and so
		// the cursor) with its ID alone.
		if s, ok := m.Values[auditField].(string); ok {
			_ = json.Unmarshal([]byte(s), &events[i])
		}
		events[i].ID = m.ID
	}
	return events, nil
}
