// Package keys is the one place that knows the Redis key layout. Every key
// of a tenant's data carries the tenant ID in a Redis Cluster hash tag
// ({id}), so all of a tenant's keys hash to one slot: per-tenant Lua
// scripts stay atomic on a cluster and a cascade delete visits one node.
//
// The functions do not validate their arguments: callers validate tenant IDs
// with tenant.ValidateID and other parts with store.ValidKey first, which is
// what keeps ':', '{', '}', '*', '?', '[' and whitespace out of keys.
package keys

import (
	"crypto/sha256"
	"encoding/hex"
)

// Global keys, shared by all tenants.
const (
	// Index is a sorted set (all scores 0) of every tenant ID, listed in
	// lexicographic order with ZRANGEBYLEX for stable cursors.
	Index = "tenant:index"
	// Events is the pub/sub channel of tenant changes.
	Events = "tenant:events"
	// Inactive is a sorted set (all scores 0) of the IDs of the tenants
	// that are not active, so that a replica learns which tenants to
	// refuse without reading every record.
	Inactive = "tenant:inactive"
	// Domains is a sorted set (all scores 0) of every custom domain that
	// has a Domain key, so that a replica can list the domains without a
	// SCAN of the whole keyspace. It may hold a domain a moment longer
	// than its Domain key, never the other way round.
	Domains = "tenant:domains"
	// Issuers is a sorted set (all scores 0) of every OIDC issuer and
	// audience pair that has an OIDC claim key, each as its [Pair] (the hex
	// digest, never the free text), so that a replica can list the pairs
	// the way it lists the domains. It may hold a pair a moment longer
	// than its claim, never the other way round.
	Issuers = "tenant:issuers"
)

// Metadata is the key of a tenant's JSON record. It shares the tenant's
// slot, so scripts can read a tenant's record beside its data.
func Metadata(id string) string { return "tenant:metadata:{" + id + "}" }

// Deleting marks a delete of the tenant that has begun and not finished:
// set before the delete changes anything, removed once every key of the
// tenant is gone. It shares the tenant's slot, so a script that creates
// the tenant reads it beside the record, but lies outside [Prefix], so the
// sweep of the tenant's data never removes it. While it exists the ID
// cannot be created again: a new tenant would inherit what the unfinished
// delete left.
func Deleting(id string) string { return "tenant:deleting:{" + id + "}" }

// Domain maps a custom domain to a tenant ID.
func Domain(host string) string { return "tenant:domain:" + host }

// OIDC is the claim of an identity provider's issuer and audience by the
// tenant whose ID it holds: no two tenants may share the pair, since their
// tokens could not be told apart. The pair is hashed (SHA-256 of issuer, a
// NUL byte and audience, in hex), because both are free text of up to a few
// kilobytes that must stay out of key names and SCAN patterns; a NUL cannot
// occur in either, so two pairs never hash the same input.
func OIDC(issuer, audience string) string { return OIDCClaim(Pair(issuer, audience)) }

// Pair is the stable name of an issuer and audience pair: the hex SHA-256
// of issuer, a NUL byte and audience, which store.IssuerPair returns.
func Pair(issuer, audience string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + audience))
	return hex.EncodeToString(sum[:])
}

// OIDCClaim is the [OIDC] claim key of a pair named by its [Pair].
func OIDCClaim(pair string) string { return "tenant:oidc:" + pair }

// Prefix is the prefix of every data key of the tenant; Prefix(id)+"*" is
// the SCAN pattern of a cascade delete. Because the ID is closed by '}', the
// pattern of "acme" never matches a key of "acme-corp".
func Prefix(id string) string { return "tenant:{" + id + "}:" }

// Client is the key of one registered client's metadata.
func Client(id, clientID string) string { return Prefix(id) + "client:" + clientID }

// Clients is the sorted set of the tenant's live client IDs, scored by
// expiry (unix milliseconds), which maxClients is counted against.
func Clients(id string) string { return Prefix(id) + "clients" }

// Session is the key of one session record.
func Session(id, sessionID string) string { return Prefix(id) + "session:" + sessionID }

// Sessions is the sorted set of the tenant's live session IDs, scored by
// expiry (unix milliseconds), which maxSessions is counted against.
func Sessions(id string) string { return Prefix(id) + "sessions" }

// SessionOwners is a hash of the tenant's session IDs by owner (field:
// store.Owner.Field, value: the owner's session IDs separated by spaces),
// which a per-owner session limit is counted against. Its entries are
// checked against Sessions when counted, so expired IDs never count.
func SessionOwners(id string) string { return Prefix(id) + "session-owners" }

// RateLimit is the key of the limiter state for key within the tenant.
func RateLimit(id, key string) string { return Prefix(id) + "rate-limit:" + key }

// Tenant returns the key under the tenant's namespace that holds what a
// single-tenant deployment kept at legacy (for example "client:abc" becomes
// "tenant:{default}:client:abc"). Migration uses it.
func Tenant(id, legacy string) string { return Prefix(id) + legacy }

// OAuth is the key of one record of the tenant's OAuth authorization
// server: kind is "tx" (a pending authorization), "code" (an authorization
// code) or "refresh" (a refresh token's binding to its client), and handle
// is derived from the value the client holds, never that value itself.
func OAuth(id, kind, handle string) string { return Prefix(id) + "oauth:" + kind + ":" + handle }

// Usage is the hash of the tenant's usage counts on one UTC day (date as
// 2006-01-02): a field per counter and one per tool name. It expires 400
// days after its day.
func Usage(id, date string) string { return Prefix(id) + "usage:" + date }

// UsageWriter holds the sequence number of the last usage batch of one
// writer (one process's recorder) applied to the tenant's counts, so that
// a batch retried after a lost answer is not counted twice.
func UsageWriter(id, writer string) string { return Prefix(id) + "usage-writer:" + writer }

// App is the key of the host application's own data name in the tenant's
// namespace: its own sub-namespace ("app:"), so that no name of the host
// can ever be a key of the library's, and under the tenant's hash tag, so
// that it shares the tenant's slot and goes with a cascade delete.
func App(id, name string) string { return Prefix(id) + "app:" + name }

// Audit is the tenant's audit trail, a stream capped near its configured
// length.
func Audit(id string) string { return Prefix(id) + "audit" }

// AdminKeys is the hash of the tenant's admin keys: field the key ID,
// value the key's record (its hash and creation time, never the key).
func AdminKeys(id string) string { return Prefix(id) + "admin-keys" }

// AdminKeysUsed is the hash of the last use of each of the tenant's admin
// keys (field the key ID, value unix milliseconds), apart from the records
// so that noting a use never rewrites a record.
func AdminKeysUsed(id string) string { return Prefix(id) + "admin-keys-used" }
