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

// usageRecord is one day's counts: a tool's field is "tool:<name>", and
// "tools" counts the names, as in redisstore's hash.
type usageRecord map[string]int64

// Add applies the batch to each of its tenants that exists, unless the
// batch was applied to the tenant already.
func (u *Usage) Add(ctx context.Context, b store.UsageBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckUsageBatch(b); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	s := u.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	byTenant := map[string][]store.UsageDelta{}
	for _, d := range b.Deltas {
		byTenant[d.TenantID] = append(byTenant[d.TenantID], d)
	}
	for id, deltas := range byTenant {
		if s.get(keys.Metadata(id), nowMs) == nil {
			continue
		}
		marker := keys.UsageWriter(id, b.Writer)
		if e := s.get(marker, nowMs); e != nil {
			if last, _ := strconv.ParseUint(string(e.value), 10, 64); b.Seq <= last {
				continue
			}
		}
		for _, d := range deltas {
			s.addUsage(keys.Usage(id, d.Date), d)
		}
		s.keys[marker] = &entry{value: []byte(strconv.FormatUint(b.Seq, 10)), expireAt: nowMs + store.UsageWriterTTL.Milliseconds()}
	}
	return nil
}

// addUsage adds one delta to its day's record. The caller holds s.mu.
func (s *Store) addUsage(key string, d store.UsageDelta) {
	_, nowMs := s.now()
	rec := usageRecord{}
	if e := s.get(key, nowMs); e != nil {
		_ = json.Unmarshal(e.value, &rec)
	}
	for field, n := range map[string]int64{
		"served": d.Served, "rateLimited": d.RateLimited, "authRefused": d.AuthRefused,
		"sessionsOpened": d.SessionsOpened, "logins": d.Logins,
	} {
		if n != 0 {
			rec[field] += n
		}
	}
	for name, n := range d.ToolCalls {
		if n == 0 {
			continue
		}
		field := "tool:" + name
		if _, ok := rec[field]; !ok && name != store.OtherTool {
			if rec["tools"] < store.MaxToolNames {
				rec["tools"]++
			} else {
				field = "tool:" + store.OtherTool
			}
		}
		rec[field] += n
	}
	day, _ := store.ParseDate(d.Date)
	data, _ := json.Marshal(rec)
	s.keys[key] = &entry{value: data, expireAt: day.Add(24*time.Hour + store.UsageRetention).UnixMilli()}
}

// Read returns the counts of every day from from to to.
func (u *Usage) Read(ctx context.Context, tenantID, from, to string) ([]store.UsageDay, error) {
	if err := check(ctx, tenantID); err != nil {
		return nil, err
	}
	dates, err := store.UsageDates(from, to)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s := u.s
	s.mu.Lock()
	defer s.mu.Unlock()
	_, nowMs := s.now()
	days := make([]store.UsageDay, len(dates))
	for i, date := range dates {
		days[i] = store.UsageDay{Date: date, UsageCounts: store.UsageCounts{ToolCalls: map[string]int64{}}}
		e := s.get(keys.Usage(tenantID, date), nowMs)
		if e == nil {
			continue
		}
		var rec usageRecord
		_ = json.Unmarshal(e.value, &rec)
		c := &days[i].UsageCounts
		c.Served, c.RateLimited, c.AuthRefused = rec["served"], rec["rateLimited"], rec["authRefused"]
		c.SessionsOpened, c.Logins = rec["sessionsOpened"], rec["logins"]
		for field, n := range rec {
			if name, ok := strings.CutPrefix(field, "tool:"); ok {
				c.ToolCalls[name] = n
			}
		}
	}
	return days, nil
}
