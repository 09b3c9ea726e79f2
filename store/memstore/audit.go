package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

// stream is a trail as its entry holds it.
type stream struct {
	// Last is the ID of the last event appended: milliseconds and a
	// sequence number within them, as a Redis stream ID.
	Last    [2]uint64          `json:"last"`
	Entries []store.AuditEvent `json:"entries"`
}

// Append adds e to the tenant's trail and keeps the newest maxLen events.
func (a *Audit) Append(ctx context.Context, tenantID string, e store.AuditEvent, maxLen int) (string, error) {
	s := a.s
	var id string
	err := s.locked(check(ctx, tenantID), func(_ time.Time, nowMs int64) error {
		if maxLen <= 0 {
			maxLen = store.DefaultAuditLength
		}
		if s.get(keys.Metadata(tenantID), nowMs) == nil {
			return fmt.Errorf("memstore: audit of %q: %w", tenantID, store.ErrTenantNotFound)
		}
		st := s.stream(tenantID, nowMs)
		ms := uint64(max(nowMs, 0))
		if ms <= st.Last[0] {
			st.Last[1]++
		} else {
			st.Last = [2]uint64{ms, 0}
		}
		e.ID = strconv.FormatUint(st.Last[0], 10) + "-" + strconv.FormatUint(st.Last[1], 10)
		st.Entries = append(st.Entries, e)
		if n := len(st.Entries) - maxLen; n > 0 {
			st.Entries = append([]store.AuditEvent(nil), st.Entries[n:]...)
		}
		data, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("memstore: encode audit: %w", err)
		}
		s.keys[keys.Audit(tenantID)] = &entry{value: data}
		id = e.ID
		return nil
	})
	return id, err
}

// stream returns the tenant's trail. The caller holds s.mu.
func (s *Store) stream(tenantID string, nowMs int64) *stream {
	st := new(stream)
	if e := s.get(keys.Audit(tenantID), nowMs); e != nil {
		_ = json.Unmarshal(e.value, st)
	}
	return st
}

// Read returns up to limit events after the cursor, oldest first.
func (a *Audit) Read(ctx context.Context, tenantID, after string, limit int) ([]store.AuditEvent, error) {
	if err := check(ctx, tenantID); err != nil {
		return nil, err
	}
	var from [2]uint64
	if after != "" {
		if !store.ValidAuditCursor(after) {
			return nil, fmt.Errorf("memstore: %w", store.ErrAuditCursor)
		}
		from = parseStreamID(after)
	}
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	limit = store.AuditPage(limit)
	out := []store.AuditEvent{}
	for _, e := range s.stream(tenantID, nowMs).Entries {
		id := parseStreamID(e.ID)
		if after != "" && (id[0] < from[0] || id[0] == from[0] && id[1] <= from[1]) {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// parseStreamID splits an ID the store made or [store.ValidAuditCursor]
// accepted.
func parseStreamID(id string) [2]uint64 {
	ms, seq, _ := strings.Cut(id, "-")
	a, _ := strconv.ParseUint(ms, 10, 64)
	b, _ := strconv.ParseUint(seq, 10, 64)
	return [2]uint64{a, b}
}
