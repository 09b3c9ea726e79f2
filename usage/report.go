package usage

import (
	"context"
	"fmt"

	"github.com/seedmcp/tenancy/store"
)

// Report is one tenant's usage over a range of days: each day, zero or
// not, and their total. Its JSON is the answer of the admin API's usage
// route:
//
//	{"tenant":"acme","days":[{"date":"2026-01-05","served":12,…,"toolCalls":{"whoami":3}}],
//	 "total":{"served":12,…,"toolCalls":{"whoami":3}}}
type Report struct {
	Tenant string            `json:"tenant"`
	Days   []store.UsageDay  `json:"days"`
	Total  store.UsageCounts `json:"total"`
}

// Read returns the tenant's usage from the date from to the date to
// (YYYY-MM-DD, UTC days, both included, at most store.MaxUsageDays). A bad
// date or range is an error wrapping store.ErrDateRange. What replicas
// have counted but not yet written is not included.
func Read(ctx context.Context, st store.Usage, tenantID, from, to string) (*Report, error) {
	days, err := st.Read(ctx, tenantID, from, to)
	if err != nil {
		return nil, fmt.Errorf("usage: read %q: %w", tenantID, err)
	}
	rep := &Report{Tenant: tenantID, Days: days, Total: store.UsageCounts{ToolCalls: map[string]int64{}}}
	for _, d := range days {
		rep.Total.Add(d.UsageCounts)
	}
	return rep, nil
}
