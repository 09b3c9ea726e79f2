// Package store defines where tenancy keeps its data: the tenant registry,
// each tenant's OAuth clients and sessions, and a per-tenant rate limiter.
//
// Every method that takes a tenant ID validates it first and refuses a bad
// one with an error wrapping [tenant.ErrInvalidID], so that no caller can
// reach another tenant's data through a crafted ID. Implementations live in
// the sub-packages: redisstore for production, memstore for tests, and
// storetest holds the conformance suite every implementation passes.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/seedmcp/tenancy/tenant"
)

// Sentinel errors returned by every implementation; match with [errors.Is].
// Tenant lookups that find nothing return errors matching both ErrNotFound
// and [tenant.ErrNotFound]; duplicates of a tenant ID or domain match both
// ErrExists and [tenant.ErrExists].
var (
	ErrNotFound   = errors.New("store: not found")
	ErrExists     = errors.New("store: already exists")
	ErrLimit      = errors.New("store: limit reached")
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidCount means a lease asked for, or gave back, a negative
	// number of requests.
	ErrInvalidCount = errors.New("store: invalid request count")
	// ErrNotPublished means a change to a tenant was made but its event
	// could not be published: other replicas learn of it only when their
	// cache entries expire. Create, Update and Delete return their result
	// together with an error wrapping it, so a caller can tell a change
	// that happened from one that did not.
	ErrNotPublished = errors.New("store: change made but its event was not published")
	// ErrConflict means a tenant changed between the read a conditional
	// update was based on and the update; read it again and retry.
	ErrConflict = errors.New("store: tenant changed since it was read")
	// ErrDeleteUnfinished means an earlier delete of the tenant did not
	// finish (it failed or was canceled midway) and may have left data:
	// a tenant created under the same ID now would inherit it. Delete the
	// tenant again to finish it, then create.
	ErrDeleteUnfinished = errors.New("store: an earlier delete of this tenant did not finish")
)

// Tenants is the tenant registry.
type Tenants interface {
	// Get returns the tenant with the given ID, whatever its status.
	Get(ctx context.Context, id string) (*tenant.Tenant, error)
	// LookupDomain returns the ID of the tenant whose custom domain is host.
	// It reads the domain's claim alone: a claim left by a write that
	// failed midway can name a tenant whose record no longer holds host
	// (one created again under the ID, even), so a caller that serves the
	// tenant found checks that its Domain is host, as the root package's
	// Service does.
	LookupDomain(ctx context.Context, host string) (string, error)
	// Create validates t, sets CreatedAt and UpdatedAt from the store's
	// clock, stores it and returns the stored record. A taken ID or domain
	// is ErrExists. Unlike the admin API, Create fills in no default: t
	// needs its Status (tenant.StatusActive for a tenant to be served).
	// While a Delete of the same ID has not finished (it failed or was
	// canceled midway, or is still running), Create answers
	// ErrDeleteUnfinished: a new tenant never inherits the data of an
	// old one of the same ID.
	Create(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error)
	// Update replaces the mutable fields of an existing tenant (ID and
	// CreatedAt are kept), sets UpdatedAt and returns the stored record.
	Update(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error)
	// Delete removes the tenant and every key of its data, and returns how
	// many keys were removed. A Delete that fails midway is finished by
	// calling it again; until then the ID cannot be created again.
	//
	// Create, Update and Delete publish an event for the other replicas;
	// when that alone fails, they return their result with an error
	// wrapping ErrNotPublished.
	Delete(ctx context.Context, id string) (int64, error)
	// List returns up to limit tenants in ID order after cursor ("" for the
	// first page) and the cursor of the next page ("" after the last).
	List(ctx context.Context, cursor string, limit int) ([]*tenant.Tenant, string, error)
}

// Swapper is implemented by tenant registries that can update a tenant
// only if it has not changed since it was read; both stores of this module
// do. A read-modify-write such as the admin API's merge patch uses it so
// that two concurrent changes never lose one another's fields.
type Swapper interface {
	// Swap is Update, made only while the stored tenant is still the one
	// read: the same record as read, field for field (its UpdatedAt alone,
	// of a millisecond's resolution, could not tell two changes made
	// within one millisecond apart). Otherwise it returns ErrConflict and
	// changes nothing.
	Swap(ctx context.Context, read, t *tenant.Tenant) (*tenant.Tenant, error)
}

// Clients holds each tenant's dynamically registered OAuth clients
// (RFC 7591).
type Clients interface {
	// Register stores c under the tenant with the store's client lifetime.
	// When maxClients > 0 and the tenant already has that many live
	// clients, it returns ErrLimit; an existing client ID is ErrExists. A
	// tenant that does not exist is ErrTenantNotFound, and nothing is
	// written: a registration that arrives during or after the tenant's
	// delete leaves nothing for a tenant created later under the ID.
	// [tenant.DefaultID] is the exception, here and for sessions and
	// grants: single-tenant mode serves it without a record.
	Register(ctx context.Context, tenantID string, c *Client, maxClients int) error
	// Get returns a live client of the tenant.
	Get(ctx context.Context, tenantID, clientID string) (*Client, error)
	// Delete removes a client of the tenant.
	Delete(ctx context.Context, tenantID, clientID string) error
}

// Sessions holds each tenant's sessions, with a sliding lifetime.
type Sessions interface {
	// Create starts a session. When maxSessions > 0 and the tenant already
	// has that many live sessions, it returns ErrLimit; an existing session
	// ID is ErrExists; a tenant that does not exist is ErrTenantNotFound,
	// and nothing is written. It is Admit for the owner with subject
	// userID and no issuer, without a per-owner limit.
	Create(ctx context.Context, tenantID, sessionID, userID string, maxSessions int) (*Session, error)
	// Admit starts a session of owner. Both limits are checked and the
	// session stored in one atomic step: at limits.MaxSessions live
	// sessions of the tenant it returns ErrLimit, and when the owner
	// already holds limits.PerOwner live sessions of the tenant, an error
	// matching ErrOwnerLimit (and ErrLimit). An existing session ID is
	// ErrExists. A tenant that does not exist is ErrTenantNotFound, and
	// nothing is written, checked in the same step.
	Admit(ctx context.Context, tenantID, sessionID string, owner Owner, limits SessionLimits) (*Session, error)
	// Get returns a live session of the tenant without extending it.
	Get(ctx context.Context, tenantID, sessionID string) (*Session, error)
	// Touch extends a live session by the full session lifetime and
	// records the access.
	Touch(ctx context.Context, tenantID, sessionID string) error
	// Delete ends a session of the tenant and frees its place.
	Delete(ctx context.Context, tenantID, sessionID string) error
}

// Limiter is a per-tenant rate limiter that decides each request on its
// own: exact, at the cost of one store round trip per request.
type Limiter interface {
	// Allow takes one request from the budget of key within the tenant:
	// limit requests per minute, with a burst of limit.
	Allow(ctx context.Context, tenantID, key string, limit int) (Decision, error)
}

// Leaser hands out a tenant's budget in leases, so that a replica can
// admit requests from memory and ask the store only once per lease. Both
// stores of this module implement it on the same budget as their
// [Limiter]: a lease and an Allow of one tenant and key draw from one
// bucket.
//
// The leases outstanding are the only way past the limit: requests
// admitted in any interval never exceed what the limit allows in it plus
// what the leases held at its start had left.
type Leaser interface {
	// Lease gives back unused requests, the unspent part of an earlier
	// lease of the caller, then takes up to want requests from the budget
	// of key within the tenant (limit requests per minute, with a burst of
	// limit), in one atomic step. It grants fewer than want, possibly none,
	// when the budget holds fewer. A limit <= 0 means unlimited: all of
	// want is granted and nothing is stored. A negative want or unused is
	// ErrInvalidCount.
	//
	// The Lease's Remaining and Reset describe the budget after the grant,
	// counting the whole grant as spent; RetryAfter, when nothing was
	// granted, is how long until one request is available again.
	Lease(ctx context.Context, tenantID, key string, limit, want, unused int) (Lease, error)
}

// Decision is the answer of a [Limiter].
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Limit is the limit the decision was made against.
	Limit int
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long until one request is allowed again; zero when
	// Allowed.
	RetryAfter time.Duration
	// Reset is how long until the full quota is back.
	Reset time.Duration
}

// Lease is the answer of a [Leaser]: Granted requests taken from the
// budget, and the budget after them. Its Decision is Allowed when at least
// one request was granted.
type Lease struct {
	// Granted is how many requests the caller may now admit on its own,
	// from zero to the want it asked for.
	Granted int
	Decision
}

// Events publishes and delivers changes to tenants, so that caches on every
// replica can drop what changed.
type Events interface {
	// Subscribe calls fn for every event until ctx is done, then returns
	// ctx's error. fn is called from one goroutine, in order. Each time the
	// subscription is (re)established, fn first receives an EventReset:
	// events may have been missed, so a cache must drop everything.
	Subscribe(ctx context.Context, fn func(Event)) error
}

// EventType says what happened to a tenant.
type EventType string

// The event types.
const (
	EventCreated EventType = "created"
	EventUpdated EventType = "updated"
	EventDeleted EventType = "deleted"
	// EventReset is local to a subscriber: it is delivered when a
	// subscription starts or resumes after a break, never published.
	EventReset EventType = "reset"
	// EventSync changes nothing: it is a mark put in the stream by
	// [Marker.Mark], so that whoever put it learns, when it comes back,
	// that every event before it has been delivered. It names no tenant;
	// a subscriber that did not put it ignores it.
	EventSync EventType = "sync"
)

// Event is one change to one tenant, or a mark; its JSON is the message
// published on the tenant:events channel.
type Event struct {
	Type     EventType `json:"type"`
	TenantID string    `json:"id,omitempty"`
	// Mark is the mark of an EventSync, empty for every other type.
	Mark string `json:"mark,omitempty"`
}
