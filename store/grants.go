package store

import (
	"context"
	"errors"
	"time"
)

// GrantKind names a kind of record of a tenant's OAuth authorization
// server (package oauthproxy).
type GrantKind string

// The kinds of grant records.
const (
	// GrantTransaction is an authorization the user approved, waiting
	// for the identity provider's answer (single use).
	GrantTransaction GrantKind = "tx"
	// GrantCode is an authorization code issued to a client (single use).
	GrantCode GrantKind = "code"
	// GrantRefresh binds a refresh token to the client it was issued to.
	GrantRefresh GrantKind = "refresh"
)

// Valid reports whether k is one of the kinds above.
func (k GrantKind) Valid() bool {
	switch k {
	case GrantTransaction, GrantCode, GrantRefresh:
		return true
	}
	return false
}

// ErrGrantTTL is returned for a grant stored without a positive lifetime:
// every grant record expires.
var ErrGrantTTL = errors.New("store: a grant needs a positive lifetime")

// Grants holds the short-lived records of each tenant's OAuth
// authorization server, in the tenant's namespace: they go with a cascade
// delete, and one tenant's records are never found through another's ID.
// A record is an opaque value under a kind and an ID, which must pass
// [ValidKey]; the caller chooses IDs that reveal nothing (hashes of the
// codes and tokens, never the codes and tokens themselves).
type Grants interface {
	// Put stores value for ttl. A live record with the same kind and ID
	// is ErrExists and stays as it was. A tenant that does not exist is
	// ErrTenantNotFound, and nothing is written (checked in the same
	// step), so that no grant outlives its tenant; [tenant.DefaultID],
	// which single-tenant mode serves without a record, is the exception.
	Put(ctx context.Context, tenantID string, kind GrantKind, id string, value []byte, ttl time.Duration) error
	// Take returns a live record and removes it in the same step: of two
	// concurrent Takes of one record, exactly one gets it and the other
	// gets ErrNotFound. This is what makes codes and transactions single
	// use.
	Take(ctx context.Context, tenantID string, kind GrantKind, id string) ([]byte, error)
	// Get returns a live record and leaves it in place; ErrNotFound when
	// there is none.
	Get(ctx context.Context, tenantID string, kind GrantKind, id string) ([]byte, error)
	// Delete removes a record; a missing one is not an error.
	Delete(ctx context.Context, tenantID string, kind GrantKind, id string) error
}
