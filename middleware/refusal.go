package middleware

import (
	"log/slog"
	"net/http"
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

// LogRefusal returns an audit hook that logs every refusal through logger
// (slog.Default() when nil) at level Warn. It is the default hook.
func LogRefusal(logger *slog.Logger) func(*http.Request, Refusal) {
	if logger == nil {
		logger = slog.Default()
	}
	return func(r *http.Request, f Refusal) {
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
		logger.LogAttrs(r.Context(), slog.LevelWarn, "tenancy: request refused", attrs...)
	}
}
