package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Bounds of the audit trail.
const (
	// DefaultAuditLength is the length an audit trail is capped near when
	// the caller names none.
	DefaultAuditLength = 10000
	// MaxAuditPage bounds the events of one [Audit.Read].
	MaxAuditPage = 1000
	// MaxAuditEventBytes bounds the JSON of one event.
	MaxAuditEventBytes = 8 << 10
)

// ErrAuditCursor is wrapped by the error of an [Audit.Read] whose cursor
// is not an event ID.
var ErrAuditCursor = errors.New("store: invalid audit cursor")

// The types of audit events.
const (
	// AuditAdmin is a change made, or refused, through the admin API.
	AuditAdmin = "admin"
	// AuditLogin is a login through the tenant's authorization server.
	AuditLogin = "login"
	// AuditAuthRefused is a request refused for its authentication.
	AuditAuthRefused = "auth_refused"
)

// AuditEvent is one event of a tenant's audit trail. It holds names,
// identifiers and outcomes, never a secret: no key, token, code or client
// secret, and no value of a changed field, only its name.
type AuditEvent struct {
	// ID is the event's position in the trail, set by the store: the
	// cursor of the page that ends with it.
	ID string `json:"id"`
	// Time is when the event happened, by the writer's clock.
	Time time.Time `json:"time"`
	// Type is AuditAdmin, AuditLogin or AuditAuthRefused.
	Type string `json:"type"`
	// Action is what an admin request asked for ("tenant.update").
	Action string `json:"action,omitempty"`
	// Actor is the ID of the admin key that made the request.
	Actor string `json:"actor,omitempty"`
	// Addr is the client address of the request.
	Addr string `json:"addr,omitempty"`
	// Status is the HTTP status of the answer.
	Status int `json:"status,omitempty"`
	// Outcome is "ok" or the reason of the refusal.
	Outcome string `json:"outcome,omitempty"`
	// Fields are the names of the fields a change set (oidc.issuer), or
	// asked to set when it was refused.
	Fields []string `json:"fields,omitempty"`
	// Target is what an admin request was about inside the tenant, such
	// as the ID of the admin key it created or revoked.
	Target string `json:"target,omitempty"`
	// ClientID is the OAuth client a login went through.
	ClientID string `json:"clientId,omitempty"`
	// Subject is the subject of a login.
	Subject string `json:"subject,omitempty"`
	// Reason is why a request was refused ("invalid_token").
	Reason string `json:"reason,omitempty"`
}

// Audit holds each tenant's audit trail, a stream of events capped near a
// length, in the tenant's namespace: it goes with a cascade delete.
type Audit interface {
	// Append adds e (its ID is ignored) to the tenant's trail and
	// returns the event's ID; the trail then keeps about maxLen of the
	// newest events (a store may keep somewhat more, never fewer; a
	// maxLen <= 0 means DefaultAuditLength). A tenant that does not exist
	// is ErrTenantNotFound (which matches [ErrNotFound] and
	// [tenant.ErrNotFound]), and nothing is written, so that no trail
	// outlives its tenant.
	Append(ctx context.Context, tenantID string, e AuditEvent, maxLen int) (string, error)
	// Read returns up to limit events (normalised by [AuditPage]) after
	// the event whose ID is after ("" for the oldest kept), oldest first.
	// A cursor that is not an event ID is an error wrapping
	// ErrAuditCursor.
	Read(ctx context.Context, tenantID, after string, limit int) ([]AuditEvent, error)
}

// AuditPage normalises the limit of an [Audit.Read]: 100 when n <= 0, at
// most MaxAuditPage.
func AuditPage(n int) int {
	if n <= 0 {
		return 100
	}
	return min(n, MaxAuditPage)
}

// ValidAuditCursor reports whether s is an event ID as the stores make
// them: two unsigned 64-bit decimal numbers joined by '-' (a Redis stream
// ID).
func ValidAuditCursor(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	return ok && decimal(ms) && decimal(seq)
}

// decimal reports whether s is an unsigned 64-bit number: with base 10,
// ParseUint takes decimal digits only (no sign, prefix or underscore).
func decimal(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
