package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// The fields of a usage hash besides the tools.
const (
	fieldServed         = "served"
	fieldRateLimited    = "rateLimited"
	fieldAuthRefused    = "authRefused"
	fieldSessionsOpened = "sessionsOpened"
	fieldLogins         = "logins"
	toolPrefix          = "tool:"
)

// Add writes the batch in one pipeline: one script per tenant, which adds
// every count of the tenant's days with HINCRBY, unless the batch was
// applied to the tenant already (see [store.UsageBatch]). On a cluster the
// pipeline goes to each master holding one of the tenants, concurrently.
func (u *Usage) Add(ctx context.Context, b store.UsageBatch) error {
	if err := store.CheckUsageBatch(b); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	calls := usageCalls(b)
	if len(calls) == 0 {
		return nil
	}
	err := u.run(ctx, calls)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// A server that lost its script cache (a restart, a failover to
		// a replica that never ran it): load the script and send the
		// batch again, which the batch number makes safe.
		if err = usageScript.Load(ctx, u.s.rdb).Err(); err == nil {
			err = u.run(ctx, calls)
		}
	}
	if err != nil {
		return fmt.Errorf("redisstore: add usage: %w", err)
	}
	return nil
}

// usageCall is the script call of one tenant.
type usageCall struct {
	keys []string
	args []any
}

// usageCalls groups the batch by tenant, in a stable order.
func usageCalls(b store.UsageBatch) []usageCall {
	byTenant := map[string][]store.UsageDelta{}
	for _, d := range b.Deltas {
		if !d.Zero() {
			byTenant[d.TenantID] = append(byTenant[d.TenantID], d)
		}
	}
	ids := make([]string, 0, len(byTenant))
	for id := range byTenant {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	calls := make([]usageCall, 0, len(ids))
	for _, id := range ids {
		c := usageCall{
			keys: []string{keys.Metadata(id), keys.UsageWriter(id, b.Writer)},
			args: []any{b.Seq, millis(store.UsageWriterTTL), store.MaxToolNames},
		}
		for _, d := range mergeDays(byTenant[id]) {
			c.keys = append(c.keys, keys.Usage(id, d.Date))
			fields := usageFields(d.UsageCounts)
			c.args = append(c.args, usageExpiry(d.Date), len(fields)/2)
			c.args = append(c.args, fields...)
		}
		calls = append(calls, c)
	}
	return calls
}

// mergeDays adds up the deltas of one tenant by date, in date order, so
// that each day's key appears once in a script call.
func mergeDays(ds []store.UsageDelta) []store.UsageDelta {
	var out []store.UsageDelta
	for _, d := range ds {
		i := slices.IndexFunc(out, func(o store.UsageDelta) bool { return o.Date == d.Date })
		if i < 0 {
			out = append(out, store.UsageDelta{TenantID: d.TenantID, Date: d.Date})
			i = len(out) - 1
		}
		out[i].Add(d.UsageCounts)
	}
	slices.SortFunc(out, func(a, b store.UsageDelta) int { return strings.Compare(a.Date, b.Date) })
	return out
}

// usageFields lists the non-zero counts as field, count pairs, tools in
// name order.
func usageFields(c store.UsageCounts) []any {
	var f []any
	for _, p := range []struct {
		name string
		n    int64
	}{
		{fieldServed, c.Served}, {fieldRateLimited, c.RateLimited}, {fieldAuthRefused, c.AuthRefused},
		{fieldSessionsOpened, c.SessionsOpened}, {fieldLogins, c.Logins},
	} {
		if p.n != 0 {
			f = append(f, p.name, p.n)
		}
	}
	names := make([]string, 0, len(c.ToolCalls))
	for name, n := range c.ToolCalls {
		if n != 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		f = append(f, toolPrefix+name, c.ToolCalls[name])
	}
	return f
}

// usageExpiry is when a day's counts expire: store.UsageRetention after
// the end of the day, in unix seconds. The date has been checked.
func usageExpiry(date string) int64 {
	day, _ := store.ParseDate(date)
	return day.Add(24*time.Hour + store.UsageRetention).Unix()
}

// run sends the calls in one pipeline and returns the first error.
func (u *Usage) run(ctx context.Context, calls []usageCall) error {
	cmds, err := u.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range calls {
			usageScript.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	if err != nil {
		// The first failed command's error, which may be a NOSCRIPT the
		// caller handles.
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				return cmd.Err()
			}
		}
	}
	return err
}

// Read returns the counts of every day from from to to in one round trip
// (a pipeline of HGETALL, all in the tenant's slot).
func (u *Usage) Read(ctx context.Context, tenantID, from, to string) ([]store.UsageDay, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	dates, err := store.UsageDates(from, to)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(dates))
	_, err = u.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, date := range dates {
			cmds[i] = p.HGetAll(ctx, keys.Usage(tenantID, date))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: read usage of %q: %w", tenantID, err)
	}
	days := make([]store.UsageDay, len(dates))
	for i, date := range dates {
		days[i] = store.UsageDay{Date: date, UsageCounts: parseUsage(cmds[i].Val())}
	}
	return days, nil
}

// parseUsage reads a usage hash. A field that is not a number (which no
// writer of this package makes) counts as zero.
func parseUsage(h map[string]string) store.UsageCounts {
	c := store.UsageCounts{ToolCalls: map[string]int64{}}
	for field, v := range h {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch field {
		case fieldServed:
			c.Served = n
		case fieldRateLimited:
			c.RateLimited = n
		case fieldAuthRefused:
			c.AuthRefused = n
		case fieldSessionsOpened:
			c.SessionsOpened = n
		case fieldLogins:
			c.Logins = n
		default:
			if name, ok := strings.CutPrefix(field, toolPrefix); ok {
				c.ToolCalls[name] = n
			}
		}
	}
	return c
}
