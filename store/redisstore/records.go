package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Register stores c under the tenant for the client lifetime. It returns an
// error matching [store.ErrExists] when the client ID is taken,
// [store.ErrLimit] when maxClients > 0 live clients exist already, and
// [store.ErrTenantNotFound] when the tenant does not exist (nothing is
// written). The checks and the write are one script over the tenant's keys:
// 100 concurrent registrations against a limit of 10 admit exactly 10, and
// a registration that reaches Redis after the tenant's delete leaves
// nothing for the sweep to miss. Tenant default, which single-tenant mode
// serves without a record, is not refused. One round trip.
func (r *Clients) Register(ctx context.Context, tenantID string, c *store.Client, maxClients int) error {
	if err := tenant.ValidateID(tenantID); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	if c == nil {
		return fmt.Errorf("redisstore: nil client: %w", store.ErrInvalidKey)
	}
	if err := store.ValidKey(c.ClientID); err != nil {
		return fmt.Errorf("redisstore: client ID: %w", err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("redisstore: encode client: %w", err)
	}
	err = r.s.admit(ctx, tenantID, []string{keys.Client(tenantID, c.ClientID), keys.Clients(tenantID)},
		c.ClientID, data, millis(r.s.clientTTL), maxClients)
	if err != nil {
		return fmt.Errorf("redisstore: client %q of %q: %w", c.ClientID, tenantID, err)
	}
	return nil
}

// Get returns a live client of the tenant, or an error matching
// [store.ErrNotFound]. One round trip: GET.
func (r *Clients) Get(ctx context.Context, tenantID, clientID string) (*store.Client, error) {
	return readJSON[store.Client](ctx, r.s, tenantID, clientID, "client", keys.Client)
}

// Delete removes a client of the tenant and frees its place, atomically;
// an unknown client is an error matching [store.ErrNotFound].
func (r *Clients) Delete(ctx context.Context, tenantID, clientID string) error {
	if err := r.s.remove(ctx, tenantID, clientID, keys.Client, keys.Clients); err != nil {
		return fmt.Errorf("redisstore: client %q of %q: %w", clientID, tenantID, err)
	}
	return nil
}

// Create starts a session of userID in the tenant for the session lifetime.
// It returns an error matching [store.ErrExists] when the session ID is
// taken, [store.ErrLimit] when maxSessions > 0 live sessions exist already,
// and [store.ErrTenantNotFound] when the tenant does not exist (nothing is
// written); like Register, atomically and in one round trip.
func (r *Sessions) Create(ctx context.Context, tenantID, sessionID, userID string, maxSessions int) (*store.Session, error) {
	return r.Admit(ctx, tenantID, sessionID, store.Owner{Subject: userID}, store.SessionLimits{MaxSessions: maxSessions})
}

// Admit starts a session of owner in the tenant for the session lifetime.
// It returns an error matching [store.ErrExists] when the session ID is
// taken, [store.ErrLimit] when limits.MaxSessions > 0 live sessions exist
// already, [store.ErrOwnerLimit] when limits.PerOwner > 0 and the owner
// holds that many, and [store.ErrTenantNotFound] when the tenant does not
// exist (nothing is written). One script checks the tenant and both limits
// and stores the session: one round trip.
func (r *Sessions) Admit(ctx context.Context, tenantID, sessionID string, owner store.Owner, limits store.SessionLimits) (*store.Session, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	if err := store.ValidKey(sessionID); err != nil {
		return nil, fmt.Errorf("redisstore: session ID: %w", err)
	}
	now := r.s.now()
	sess := &store.Session{UserID: owner.Subject, Issuer: owner.Issuer, TenantID: tenantID, CreatedAt: now, LastAccessedAt: now}
	data, err := json.Marshal(sess)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encode session: %w", err)
	}
	keyList := []string{keys.Session(tenantID, sessionID), keys.Sessions(tenantID)}
	args := []any{sessionID, data, millis(r.s.sessionTTL), limits.MaxSessions}
	if limits.PerOwner > 0 {
		keyList = append(keyList, keys.SessionOwners(tenantID))
		args = append(args, owner.Field(), limits.PerOwner)
	}
	if err := r.s.admit(ctx, tenantID, keyList, args...); err != nil {
		return nil, fmt.Errorf("redisstore: session %q of %q: %w", sessionID, tenantID, err)
	}
	return sess, nil
}

// Get returns a live session of the tenant without extending it, or an
// error matching [store.ErrNotFound]. One round trip: GET.
func (r *Sessions) Get(ctx context.Context, tenantID, sessionID string) (*store.Session, error) {
	return readJSON[store.Session](ctx, r.s, tenantID, sessionID, "session", keys.Session)
}

// Touch gives a live session the full session lifetime again, from now,
// and records the access in its lastAccessedAt: the record's expiry, its
// score in the tenant's session set and the timestamp change together, in
// one script. One round trip.
func (r *Sessions) Touch(ctx context.Context, tenantID, sessionID string) error {
	if err := tenant.ValidateID(tenantID); err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	if err := store.ValidKey(sessionID); err != nil {
		return fmt.Errorf("redisstore: session ID: %w", err)
	}
	at, err := json.Marshal(r.s.now())
	if err != nil {
		return fmt.Errorf("redisstore: encode time: %w", err)
	}
	n, err := touchScript.Run(ctx, r.s.rdb,
		[]string{keys.Metadata(tenantID), keys.Session(tenantID, sessionID), keys.Sessions(tenantID), keys.SessionOwners(tenantID)},
		sessionID, at, millis(r.s.sessionTTL)).Int()
	if err != nil {
		return fmt.Errorf("redisstore: touch session %q of %q: %w", sessionID, tenantID, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: session %q of %q: %w", sessionID, tenantID, store.ErrNotFound)
	}
	return nil
}

// Delete ends a session of the tenant and frees its place, in the tenant's
// count and in its owner's, atomically; an unknown session is an error
// matching [store.ErrNotFound]. One round trip.
func (r *Sessions) Delete(ctx context.Context, tenantID, sessionID string) error {
	err := tenant.ValidateID(tenantID)
	if err == nil {
		err = store.ValidKey(sessionID)
	}
	if err == nil {
		var n int
		n, err = removeScript.Run(ctx, r.s.rdb,
			[]string{keys.Session(tenantID, sessionID), keys.Sessions(tenantID), keys.SessionOwners(tenantID)},
			sessionID).Int()
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("redisstore: session %q of %q: %w", sessionID, tenantID, err)
	}
	return nil
}

// admit runs the admit script (see lua/admit.lua) on the tenant's
// metadata key followed by keyList, the record key, the tenant's set and
// the optional owners' hash, with args, and turns its answer into an error.
func (s *Store) admit(ctx context.Context, tenantID string, keyList []string, args ...any) error {
	n, err := admitScript.Run(ctx, s.rdb, append([]string{keys.Metadata(tenantID)}, keyList...), args...).Int()
	switch {
	case err != nil:
		return err
	case n == 0:
		return store.ErrExists
	case n == -1:
		return store.ErrLimit
	case n == -2:
		return store.ErrOwnerLimit
	case n < 0:
		return store.ErrTenantNotFound
	}
	return nil
}

// readJSON decodes the record keyOf(tenantID, id) into a new T. what names
// the record in errors ("client", "session").
func readJSON[T any](ctx context.Context, s *Store, tenantID, id, what string, keyOf func(string, string) string) (*T, error) {
	data, err := s.readRecord(ctx, tenantID, id, keyOf)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s %q of %q: %w", what, id, tenantID, err)
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("redisstore: decode %s %q of %q: %w", what, id, tenantID, err)
	}
	return v, nil
}

// readRecord returns the value of the record keyOf(tenantID, id), after checking
// both parts.
func (s *Store) readRecord(ctx context.Context, tenantID, id string, keyOf func(string, string) string) ([]byte, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return nil, err
	}
	if err := store.ValidKey(id); err != nil {
		return nil, err
	}
	data, err := s.rdb.Get(ctx, keyOf(tenantID, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	return data, err
}

// remove runs the remove script on the record keyOf(tenantID, id) and its
// member of setOf(tenantID): see lua/remove.lua.
func (s *Store) remove(ctx context.Context, tenantID, id string, keyOf func(string, string) string, setOf func(string) string) error {
	if err := tenant.ValidateID(tenantID); err != nil {
		return err
	}
	if err := store.ValidKey(id); err != nil {
		return err
	}
	n, err := removeScript.Run(ctx, s.rdb, []string{keyOf(tenantID, id), setOf(tenantID)}, id).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
