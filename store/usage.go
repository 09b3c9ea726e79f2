package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/tenant"
)

// Bounds of the usage records.
const (
	// MaxToolNames bounds the tool names counted for one tenant on one day.
	// A call of a further tool is counted under [OtherTool], which does
	// not count as a name, so that a host with an open-ended set of tool
	// names cannot grow a tenant's records without bound.
	MaxToolNames = 64
	// OtherTool is the name the calls of tools past MaxToolNames, and of
	// tools whose name is not a valid one, are counted under. A tool that
	// is itself named "other" is counted there too.
	OtherTool = "other"
	// MaxToolNameLength bounds a tool name in bytes, as MCP recommends.
	MaxToolNameLength = 128
	// UsageRetention is how long a day's counts are kept after the day.
	UsageRetention = 400 * 24 * time.Hour
	// DateLayout is the layout of a usage date: a UTC day.
	DateLayout = time.DateOnly
)

// Errors of the usage records; match them with [errors.Is].
var (
	// ErrUsageBatch is wrapped by the error of a usage batch that is
	// malformed: no writer, a zero sequence number, an invalid date or
	// tool name, or a negative count.
	ErrUsageBatch = errors.New("store: invalid usage batch")
	// ErrDateRange is wrapped by the error of a date that is not
	// YYYY-MM-DD, or of a range of dates that is empty or longer than
	// MaxUsageDays.
	ErrDateRange = errors.New("store: invalid date range")
)

// UsageCounts is what a tenant used over some period.
type UsageCounts struct {
	// Served counts the requests served.
	Served int64 `json:"served"`
	// RateLimited counts the requests refused for the tenant's rate limit.
	RateLimited int64 `json:"rateLimited"`
	// AuthRefused counts the requests refused for their authentication.
	AuthRefused int64 `json:"authRefused"`
	// SessionsOpened counts the MCP sessions opened.
	SessionsOpened int64 `json:"sessionsOpened"`
	// Logins counts the logins through the tenant's authorization server.
	Logins int64 `json:"logins"`
	// ToolCalls counts tool calls by tool name, at most MaxToolNames
	// names a day besides OtherTool.
	ToolCalls map[string]int64 `json:"toolCalls"`
}

// Add adds o to c.
func (c *UsageCounts) Add(o UsageCounts) {
	c.Served += o.Served
	c.RateLimited += o.RateLimited
	c.AuthRefused += o.AuthRefused
	c.SessionsOpened += o.SessionsOpened
	c.Logins += o.Logins
	if len(o.ToolCalls) > 0 && c.ToolCalls == nil {
		c.ToolCalls = make(map[string]int64, len(o.ToolCalls))
	}
	for name, n := range o.ToolCalls {
		c.ToolCalls[name] += n
	}
}

// Zero reports whether c counts nothing.
func (c *UsageCounts) Zero() bool {
	if c.Served != 0 || c.RateLimited != 0 || c.AuthRefused != 0 || c.SessionsOpened != 0 || c.Logins != 0 {
		return false
	}
	for _, n := range c.ToolCalls {
		if n != 0 {
			return false
		}
	}
	return true
}

// UsageDay is one tenant's counts on one UTC day.
type UsageDay struct {
	// Date is the day, as DateLayout (2006-01-02).
	Date string `json:"date"`
	UsageCounts
}

// UsageDelta is what to add to one tenant's counts of one day.
type UsageDelta struct {
	TenantID string
	// Date is the day, as DateLayout.
	Date string
	UsageCounts
}

// UsageBatch is one write of the counts a process gathered. Writer names
// the process and Seq numbers its batches from 1 upwards: a store applies
// a batch to a tenant only when Seq is above the last it applied to that
// tenant for the writer, so a batch sent again after its answer was lost
// (the connection dropped after the write) is not counted twice, and a
// batch applied in part is completed by sending it again.
type UsageBatch struct {
	// Writer identifies the writing process; it must pass [ValidKey].
	Writer string
	// Seq is the batch's number, above every earlier batch of Writer.
	Seq    uint64
	Deltas []UsageDelta
}

// UsageWriterTTL is how long a store remembers the last batch a writer
// applied to a tenant: a batch retried later than that after a lost answer
// may be counted twice.
const UsageWriterTTL = 24 * time.Hour

// Usage holds each tenant's usage counts per UTC day, kept
// UsageRetention after the day, in the tenant's namespace: they go with a
// cascade delete.
type Usage interface {
	// Add adds the batch's counts. Counts are added on the store (never
	// read, summed and written back), so batches of several processes add
	// up exactly. Counts of a tenant that does not exist are dropped, so
	// that a batch written just after a delete leaves nothing behind. A
	// tool name past MaxToolNames for its tenant and day is counted under
	// OtherTool. On an error, part of the batch may have been applied: the
	// caller sends the same batch again.
	Add(ctx context.Context, b UsageBatch) error
	// Read returns the counts of every day from from to to (dates as
	// DateLayout, at most MaxUsageDays of them), zero for days without
	// any, in date order. Every ToolCalls map is non-nil.
	Read(ctx context.Context, tenantID, from, to string) ([]UsageDay, error)
}

// MaxUsageDays bounds the days of one [Usage.Read]: the days kept.
const MaxUsageDays = 400

// UsageDates returns the dates from from to to, both as DateLayout, or an
// error wrapping ErrDateRange when either is not a date, to is before
// from, or there are more than MaxUsageDays of them.
func UsageDates(from, to string) ([]string, error) {
	f, err := ParseDate(from)
	if err != nil {
		return nil, err
	}
	t, err := ParseDate(to)
	if err != nil {
		return nil, err
	}
	if t.Before(f) {
		return nil, fmt.Errorf("%w: %s is before %s", ErrDateRange, to, from)
	}
	n := int(t.Sub(f)/(24*time.Hour)) + 1
	if n > MaxUsageDays {
		return nil, fmt.Errorf("%w: more than %d days", ErrDateRange, MaxUsageDays)
	}
	dates := make([]string, n)
	for i := range dates {
		dates[i] = f.AddDate(0, 0, i).Format(DateLayout)
	}
	return dates, nil
}

// ParseDate parses a usage date (2006-01-02, a UTC day) exactly: it
// refuses anything time.Parse would accept besides the canonical form,
// with an error wrapping ErrDateRange.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Format(DateLayout) != s {
		return time.Time{}, fmt.Errorf("%w: a date is YYYY-MM-DD", ErrDateRange)
	}
	return t, nil
}

// ValidToolName reports whether name is a tool name the usage records
// keep as it is: 1 to MaxToolNameLength bytes of ASCII letters, digits,
// '_', '-' and '.', the characters MCP allows in tool names. Any other
// name is counted under OtherTool.
func ValidToolName(name string) bool {
	if len(name) == 0 || len(name) > MaxToolNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !toolByte[name[i]] {
			return false
		}
	}
	return true
}

var toolByte = func() (t [256]bool) {
	for b := 'a'; b <= 'z'; b++ {
		t[b], t[b-'a'+'A'] = true, true
	}
	for b := '0'; b <= '9'; b++ {
		t[b] = true
	}
	t['_'], t['-'], t['.'] = true, true, true
	return t
}()

// CheckUsageBatch returns an error wrapping ErrUsageBatch (or, for a bad
// tenant ID, [tenant.ErrInvalidID]) when b is malformed. Every store calls
// it before writing anything.
func CheckUsageBatch(b UsageBatch) error {
	if err := ValidKey(b.Writer); err != nil {
		return errors.Join(ErrUsageBatch, err)
	}
	if b.Seq == 0 {
		return errors.Join(ErrUsageBatch, errors.New("store: usage batches are numbered from 1"))
	}
	for _, d := range b.Deltas {
		if err := tenant.ValidateID(d.TenantID); err != nil {
			return fmt.Errorf("store: usage of %q: %w", d.TenantID, err)
		}
		if _, err := ParseDate(d.Date); err != nil {
			return errors.Join(ErrUsageBatch, err)
		}
		c := d.UsageCounts
		if c.Served < 0 || c.RateLimited < 0 || c.AuthRefused < 0 || c.SessionsOpened < 0 || c.Logins < 0 {
			return errors.Join(ErrUsageBatch, errors.New("store: negative count"))
		}
		for name, n := range c.ToolCalls {
			if n < 0 || (name != OtherTool && !ValidToolName(name)) {
				return errors.Join(ErrUsageBatch, errors.New("store: invalid tool name or count"))
			}
		}
	}
	return nil
}
