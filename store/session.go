package store

import "strconv"

// ErrOwnerLimit means the owner of a new session already holds as many live
// sessions in the tenant as [SessionLimits.PerOwner] allows. It matches
// [ErrLimit] too, so a caller that only asks whether a limit was reached
// needs no second check.
var ErrOwnerLimit error

// Owner is the caller a session belongs to: the issuer and subject of the
// verified token that opened it. The zero Owner is the anonymous caller, so
// all anonymous callers of a tenant share one owner, and one per-owner
// limit.
type Owner struct {
	Issuer  string
	Subject string
}

// OwnerOf returns the owner recorded in s.
func OwnerOf(s *Session) Owner { return Owner{Issuer: s.Issuer, Subject: s.UserID} }

// Field returns the name under which the owner's sessions are indexed
// within a tenant: the issuer's length in bytes, a colon, the issuer and
// the subject. The length keeps two owners apart whatever their strings
// hold (issuer "a" with subject "bc" is "1:abc", issuer "ab" with subject
// "c" is "2:abc"). redisstore's scripts compute the same name from a
// session record.
func (o Owner) Field() string {
	return strconv.Itoa(len(o.Issuer)) + ":" + o.Issuer + o.Subject
}

// SessionLimits bound the live sessions [Sessions.Admit] lets a tenant and
// one owner hold. 0 means no limit.
type SessionLimits struct {
	// MaxSessions bounds the tenant's live sessions: its
	// limits.maxSessions.
	MaxSessions int
	// PerOwner bounds the live sessions of one owner within the tenant,
	// so that one caller cannot take every place (or, with no tenant
	// limit, the server's memory).
	PerOwner int
}
