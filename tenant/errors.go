package tenant

import (
	"errors"
	"fmt"
)

// Sentinel errors. Other packages wrap them with %w; match them with
// [errors.Is].
var (
	// ErrMissingID means a request carried no tenant identifier at all: no
	// subdomain, an empty path segment, an absent or empty header.
	ErrMissingID = errors.New("tenant: missing tenant identifier")
	// ErrInvalidID means a tenant identifier was present but malformed, or
	// a store was handed an ID that breaks the ID rules.
	ErrInvalidID = errors.New("tenant: invalid tenant identifier")
	// ErrReservedID is returned for [ReservedID]; it wraps ErrInvalidID.
	ErrReservedID = fmt.Errorf("%w: %q is reserved", ErrInvalidID, ReservedID)
	// ErrNotFound means no tenant has the ID (or the domain).
	ErrNotFound = errors.New("tenant: not found")
	// ErrExists means a tenant with the same ID or domain already exists.
	ErrExists = errors.New("tenant: already exists")
	// ErrInvalid means a tenant record breaks a rule of [Tenant.Validate].
	// The wrapping error names the field.
	ErrInvalid = errors.New("tenant: invalid tenant")
)

// Preallocated causes for ValidateID, so that a rejected ID costs no
// allocation either: a flood of malformed IDs must be cheap to refuse.
var (
	errEmptyID  = fmt.Errorf("%w: empty", ErrInvalidID)
	errLongID   = fmt.Errorf("%w: longer than %d bytes", ErrInvalidID, MaxIDLength)
	errHyphenID = fmt.Errorf("%w: starts or ends with '-'", ErrInvalidID)
	errByteID   = fmt.Errorf("%w: only a-z, 0-9 and '-' are allowed", ErrInvalidID)
)
