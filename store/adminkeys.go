package store

import (
	"context"
	"time"
)

// MaxAdminKeys bounds the admin keys of one tenant.
const MaxAdminKeys = 100

// AdminKey is the record of one tenant admin key. It holds the key's hash,
// never the key: the key is shown once, when it is made.
type AdminKey struct {
	// ID names the key; it must pass [ValidKey].
	ID string `json:"id"`
	// Hash is the hex SHA-256 of the key's secret.
	Hash string `json:"-"`
	// CreatedAt is when the key was made.
	CreatedAt time.Time `json:"createdAt"`
	// LastUsedAt is when the key was last accepted, to the minute or
	// so; zero when never.
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// AdminKeys holds the admin keys of each tenant, in the tenant's
// namespace: they go with a cascade delete, so a key never outlives its
// tenant.
type AdminKeys interface {
	// Create stores k for the tenant. A tenant that does not exist is
	// ErrTenantNotFound (which matches [ErrNotFound] and
	// [tenant.ErrNotFound]), and nothing is written; an existing key ID is
	// ErrExists; a tenant that already has max keys (max <= 0 means
	// MaxAdminKeys) is ErrLimit.
	Create(ctx context.Context, tenantID string, k AdminKey, max int) error
	// Get returns the key, or an error matching ErrNotFound.
	Get(ctx context.Context, tenantID, keyID string) (*AdminKey, error)
	// List returns the tenant's keys by creation time.
	List(ctx context.Context, tenantID string) ([]AdminKey, error)
	// Touch records a use of the key at the given time; a key that is
	// gone stays gone.
	Touch(ctx context.Context, tenantID, keyID string, at time.Time) error
	// Revoke removes the key; ErrNotFound when there is none.
	Revoke(ctx context.Context, tenantID, keyID string) error
}
