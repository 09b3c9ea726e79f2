package middleware

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Reason says why a request was refused.
type Reason string

// The reasons a request is refused. The client sees fewer distinctions than
// these (an unknown and a suspended tenant get the same answer); the audit
// hook sees them all.
const (
	ReasonMissing     Reason = "missing_identifier"
	ReasonInvalid     Reason = "invalid_identifier"
	ReasonNotFound    Reason = "not_found"
	ReasonSuspended   Reason = "suspended"
	ReasonUnavailable Reason = "unavailable"
	ReasonRateLimited Reason = "rate_limited"
	// ReasonHungUp is a request whose client went away (its context
	// was canceled) while the tenant was being read: the 503 written
	// reaches no one, and the store is not to blame, so it is counted
	// apart from ReasonUnavailable and does not raise the summary's
	// level.
	ReasonHungUp Reason = "hung_up"
)

// MaxIdentifierLog bounds [Refusal.Identifier]: a malformed identifier can
// be as large as a header, and an audit line need not be.
const MaxIdentifierLog = 64

// Refusal describes one refused request, for auditing.
type Refusal struct {
	Reason Reason
	// Status is the HTTP status the client was answered.
	Status int
	// TenantID is the tenant the request named, when it was well-formed.
	TenantID string
	// Identifier is the malformed identifier of a ReasonInvalid refusal,
	// as the request carried it (from resolve.InvalidError), cut to
	// MaxIdentifierLog bytes. It is hostile input: log it escaped, as
	// log/slog's handlers do.
	Identifier string
	// RemoteAddr is the request's remote address.
	RemoteAddr string
	// Err is the underlying error, if any. It is for logs, never for the
	// client.
	Err error
}

// DefaultSummaryInterval is the default of [RefusalLogConfig.Interval].
const DefaultSummaryInterval = time.Minute

// RefusalLogConfig configures [RefusalLog]. The zero value is the default
// hook's configuration: each refusal at debug level, and a summary at most
// once a minute.
type RefusalLogConfig struct {
	// Logger receives the lines.
	// default: slog.Default()
	Logger *slog.Logger
	// Level is the level of the line logged for each refusal, with its
	// reason, status, tenant, remote address, method, malformed
	// identifier and error. Refusals are answers to clients' mistakes
	// (or to a client probing for tenants), so by default they are kept
	// out of a production log and the summary says how many there were;
	// slog.LevelWarn logs every one where the summary is logged.
	// default: slog.LevelDebug
	Level slog.Leveler
	// Interval is how often the refusals are summed up: once an Interval
	// at most, one line, "tenancy: requests refused", with the count of
	// each reason since the last summary, at level Info, or Warn when
	// some were answered 503 because the tenant store could not be read.
	// Nothing is logged for an interval without refusals. Negative means
	// no summary.
	// default: DefaultSummaryInterval (1 minute)
	Interval time.Duration
}

// reasons are the Reasons a summary counts, in the order it lists them;
// any other Reason counts as "other".
var reasons = [...]Reason{
	ReasonMissing, ReasonInvalid, ReasonNotFound, ReasonSuspended,
	ReasonUnavailable, ReasonRateLimited, ReasonHungUp, "other",
}

// refusalLog is the state of one RefusalLog hook.
type refusalLog struct {
	logger   *slog.Logger
	level    slog.Leveler
	interval time.Duration
	// counts are the refusals of each reason since the last summary.
	counts [len(reasons)]atomic.Int64
	// armed is set while a summary is scheduled.
	armed atomic.Bool
}

// RefusalLog returns an audit hook for the OnRefused fields of
// [TenantConfig] and [RateLimitConfig] that logs each refusal at
// cfg.Level (debug by default) and sums the refusals up in one line per
// cfg.Interval (a minute by default), so that a flood of requests for
// made-up tenants is not a flood of log lines too: at the default levels it
// costs one line a minute, and no allocation per request.
//
// The summary is written by a timer started at the first refusal after a
// quiet spell, so no goroutine runs while nothing is refused.
func RefusalLog(cfg RefusalLogConfig) func(*http.Request, Refusal) {
	l := &refusalLog{logger: cfg.Logger, level: cfg.Level, interval: cfg.Interval}
	l.logger = cmp.Or(l.logger, slog.Default())
	if l.level == nil {
		l.level = slog.LevelDebug
	}
	l.interval = cmp.Or(l.interval, DefaultSummaryInterval)
	return l.refused
}

// LogRefusal returns the default audit hook of the tenant and rate-limit
// middlewares: RefusalLog with logger (slog.Default() when nil), each
// refusal at debug level and a summary of them at most once a minute.
func LogRefusal(logger *slog.Logger) func(*http.Request, Refusal) {
	return RefusalLog(RefusalLogConfig{Logger: logger})
}

func (l *refusalLog) refused(r *http.Request, f Refusal) {
	if l.interval > 0 {
		l.counts[reasonIndex(f.Reason)].Add(1)
		if l.armed.CompareAndSwap(false, true) {
			time.AfterFunc(l.interval, l.summarize)
		}
	}
	ctx := r.Context()
	level := l.level.Level()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("reason", string(f.Reason)),
		slog.Int("status", f.Status),
		slog.String("tenant", f.TenantID),
		slog.String("remote", f.RemoteAddr),
		slog.String("method", r.Method),
	}
	if f.Identifier != "" {
		attrs = append(attrs, slog.String("identifier", f.Identifier))
	}
	if f.Err != nil {
		attrs = append(attrs, slog.String("error", f.Err.Error()))
	}
	l.logger.LogAttrs(ctx, level, "tenancy: request refused", attrs...)
}

// summarize logs the counts since the last summary and resets them. It
// disarms before it reads the counts: a refusal counted after a count is
// read finds the hook disarmed and schedules the next summary, so no
// refusal is left out of every summary.
func (l *refusalLog) summarize() {
	l.armed.Store(false)
	attrs := make([]slog.Attr, 0, len(reasons)+2)
	attrs = append(attrs, slog.Duration("interval", l.interval))
	var total int64
	level := slog.LevelInfo
	for i := range l.counts {
		n := l.counts[i].Swap(0)
		if n == 0 {
			continue
		}
		total += n
		if reasons[i] == ReasonUnavailable {
			level = slog.LevelWarn
		}
		attrs = append(attrs, slog.Int64(string(reasons[i]), n))
	}
	if total == 0 {
		return
	}
	attrs = append(attrs, slog.Int64("total", total))
	l.logger.LogAttrs(context.Background(), level, "tenancy: requests refused", attrs...)
}

// reasonIndex is the index of reason in reasons.
func reasonIndex(reason Reason) int {
	for i, r := range reasons[:len(reasons)-1] {
		if r == reason {
			return i
		}
	}
	return len(reasons) - 1
}
