package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// A tenant admin key reads
//
//	tk.<tenant ID>.<key ID>.<secret>
//
// The tenant and key IDs say which record to check, so a key is checked
// with one read in its own tenant's namespace (which a cascade delete
// empties: a key never outlives its tenant). The secret is 32 random
// bytes. Only the SHA-256 of the whole key is stored.
//
// A fast hash is the right one here: password hashes (bcrypt, scrypt,
// Argon2) are slow so that guessing a human-chosen password from its hash
// costs much, but nobody can guess 256 random bits however fast the hash
// is, and a slow hash would cost the server CPU on every request instead,
// handing anyone who can send keys a lever on it.
const (
	keyPrefix      = "tk."
	keyIDBytes     = 12 // 96 bits: IDs never collide
	keySecretBytes = 32
)

// keyIDLength is the length of a key ID in hex.
const keyIDLength = 2 * keyIDBytes

// principal is who a request's key belongs to: an operator, or a tenant's
// admin.
type principal struct {
	// op is the 1-based position of an operator key, or 0.
	op int
	// tenant and keyID name a tenant key.
	tenant, keyID string
}

func (p principal) operator() bool { return p.op > 0 }

func (p principal) valid() bool { return p.op > 0 || p.keyID != "" }

// actor is the key's ID for logs and the audit trail: never the key.
func (p principal) actor() string {
	if p.op > 0 {
		return "operator-" + strconv.Itoa(p.op)
	}
	return p.keyID
}

// mayAct reports whether p may act on the tenant with ID id.
func (p principal) mayAct(id string) bool { return p.op > 0 || (p.keyID != "" && p.tenant == id) }

// unknownKeyHash is compared against when a tenant key's record is
// missing, so that a missing record costs the same comparison as a wrong
// key.
var unknownKeyHash = strings.Repeat("0", 2*sha256.Size)

// identify returns who presented holds the key of; a zero principal for
// no key or a wrong one. It fails only when the store of tenant keys
// cannot be reached.
func (h *Handler) identify(ctx context.Context, presented string) (principal, error) {
	sum := sha256.Sum256([]byte(presented))
	if op := h.operatorKey(sum); op > 0 && presented != "" {
		return principal{op: op}, nil
	}
	id, keyID, ok := parseKey(presented)
	if !ok || h.cfg.Keys == nil {
		return principal{}, nil
	}
	rec, err := h.cfg.Keys.Get(ctx, id, keyID)
	want := unknownKeyHash
	switch {
	case err == nil:
		want = rec.Hash
	case !errors.Is(err, store.ErrNotFound):
		return principal{}, err
	}
	got := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || err != nil {
		return principal{}, nil
	}
	h.noteUse(ctx, id, rec)
	return principal{tenant: id, keyID: keyID}, nil
}

// lastUseStep is how stale a key's last use may get: a use is written at
// most once per step, so that a busy key costs no write per request.
const lastUseStep = time.Minute

// noteUse records a use of the key when its last one is older than
// lastUseStep. A failure only leaves the last use older.
func (h *Handler) noteUse(ctx context.Context, id string, rec *store.AdminKey) {
	now := h.cfg.Now()
	if now.Sub(rec.LastUsedAt) < lastUseStep {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeRetryAfter)
	defer cancel()
	if err := h.cfg.Keys.Touch(ctx, id, rec.ID, now); err != nil {
		h.log.Warn("admin api: last use of a key not recorded", "tenant", id, "key", rec.ID, "error", err)
	}
}

// parseKey splits a tenant key into its tenant and key IDs, checking the
// form of each part.
func parseKey(s string) (id, keyID string, ok bool) {
	rest, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return "", "", false
	}
	id, rest, _ = strings.Cut(rest, ".")
	keyID, secret, _ := strings.Cut(rest, ".")
	if !tenant.ValidID(id) || !validKeyID(keyID) || len(secret) != base64.RawURLEncoding.EncodedLen(keySecretBytes) {
		return "", "", false
	}
	return id, keyID, true
}

// validKeyID reports whether s is a key ID as newKey makes them.
func validKeyID(s string) bool {
	if len(s) != keyIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// newKey makes a key of the tenant: its ID, the key and the key's hash.
func newKey(id string) (keyID, key, hash string) {
	b := make([]byte, keyIDBytes+keySecretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	keyID = hex.EncodeToString(b[:keyIDBytes])
	key = keyPrefix + id + "." + keyID + "." + base64.RawURLEncoding.EncodeToString(b[keyIDBytes:])
	sum := sha256.Sum256([]byte(key))
	return keyID, key, hex.EncodeToString(sum[:])
}

// createdKey is the answer of POST /admin/tenants/{id}/keys: the only
// time the key is shown.
type createdKey struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	CreatedAt time.Time `json:"createdAt"`
}

// keyList is the answer of GET /admin/tenants/{id}/keys.
type keyList struct {
	Tenant string           `json:"tenant"`
	Keys   []store.AdminKey `json:"keys"`
}

// revoked is the answer of DELETE /admin/tenants/{id}/keys/{keyId}.
type revoked struct {
	Tenant  string `json:"tenant"`
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

func (h *Handler) createKey(r *http.Request, _ principal) reply {
	id, rep := pathID(r)
	if rep != nil {
		return *rep
	}
	keyID, key, hash := newKey(id)
	created := h.cfg.Now().UTC().Truncate(time.Millisecond)
	err := h.cfg.Keys.Create(r.Context(), id, store.AdminKey{ID: keyID, Hash: hash, CreatedAt: created}, 0)
	switch {
	case errors.Is(err, store.ErrLimit):
		return withTenant(fail(http.StatusConflict, "Too many admin keys for this tenant: revoke one first"), id)
	case err != nil:
		return storeFailure(err, id)
	}
	return reply{status: http.StatusCreated, body: createdKey{ID: keyID, Key: key, CreatedAt: created},
		tenant: id, target: keyID, location: "/admin/tenants/" + id + "/keys/" + keyID}
}

func (h *Handler) listKeys(r *http.Request, _ principal) reply {
	id, rep := h.existing(r)
	if rep != nil {
		return *rep
	}
	keys, err := h.cfg.Keys.List(r.Context(), id)
	if err != nil {
		return storeFailure(err, id)
	}
	return reply{status: http.StatusOK, body: keyList{Tenant: id, Keys: keys}, tenant: id}
}

func (h *Handler) revokeKey(r *http.Request, _ principal) reply {
	id, rep := h.existing(r)
	if rep != nil {
		return *rep
	}
	keyID := r.PathValue("keyId")
	if !validKeyID(keyID) {
		return withTenant(fail(http.StatusBadRequest, "Invalid key ID"), id)
	}
	err := h.cfg.Keys.Revoke(r.Context(), id, keyID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rep := withTenant(fail(http.StatusNotFound, "Key not found"), id)
		rep.target = keyID
		return rep
	case err != nil:
		return storeFailure(err, id)
	}
	return reply{status: http.StatusOK, body: revoked{Tenant: id, ID: keyID, Revoked: true}, tenant: id, target: keyID}
}

// existing returns the path's tenant ID once the tenant is known to
// exist, or the answer for a malformed ID or a missing tenant.
func (h *Handler) existing(r *http.Request) (string, *reply) {
	id, rep := pathID(r)
	if rep != nil {
		return "", rep
	}
	if _, err := h.cfg.Tenants.Get(r.Context(), id); err != nil {
		rep := storeFailure(err, id)
		return "", &rep
	}
	return id, nil
}
