package memstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

// Create starts a session of userID in the tenant for the session lifetime.
// It returns an error matching [store.ErrExists] when the session ID is
// taken and [store.ErrLimit] when maxSessions > 0 live sessions exist
// already.
func (r *Sessions) Create(ctx context.Context, tenantID, sessionID, userID string, maxSessions int) (*store.Session, error) {
	s := r.s
	if err := check(ctx, tenantID); err != nil {
		return nil, err
	}
	if err := store.ValidKey(sessionID); err != nil {
		return nil, fmt.Errorf("memstore: session ID: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now, nowMs := s.now()
	sess := &store.Session{UserID: userID, TenantID: tenantID, CreatedAt: now, LastAccessedAt: now}
	data, err := json.Marshal(sess)
	if err != nil {
		return nil, fmt.Errorf("memstore: encode session: %w", err)
	}
	err = s.admit(keys.Session(tenantID, sessionID), keys.Sessions(tenantID), sessionID, data, s.sessionTTL, maxSessions, nowMs)
	if err != nil {
		return nil, fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, err)
	}
	return sess, nil
}

// Get returns a live session of the tenant without extending it, or an
// error matching [store.ErrNotFound].
func (r *Sessions) Get(ctx context.Context, tenantID, sessionID string) (*store.Session, error) {
	data, err := r.s.read(ctx, tenantID, sessionID, keys.Session)
	if err != nil {
		return nil, fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, err)
	}
	sess := new(store.Session)
	if err := json.Unmarshal(data, sess); err != nil {
		return nil, fmt.Errorf("memstore: decode session %q of %q: %w", sessionID, tenantID, err)
	}
	return sess, nil
}

// Touch gives a live session the full session lifetime again, from now,
// and records the access in its lastAccessedAt.
func (r *Sessions) Touch(ctx context.Context, tenantID, sessionID string) error {
	s := r.s
	if err := check(ctx, tenantID); err != nil {
		return err
	}
	if err := store.ValidKey(sessionID); err != nil {
		return fmt.Errorf("memstore: session ID: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now, nowMs := s.now()
	key := keys.Session(tenantID, sessionID)
	e := s.get(key, nowMs)
	if e == nil {
		return fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, store.ErrNotFound)
	}
	var sess store.Session
	if err := json.Unmarshal(e.value, &sess); err != nil {
		return fmt.Errorf("memstore: decode session %q of %q: %w", sessionID, tenantID, err)
	}
	sess.LastAccessedAt = now
	data, err := json.Marshal(&sess)
	if err != nil {
		return fmt.Errorf("memstore: encode session: %w", err)
	}
	expiry := nowMs + s.sessionTTL.Milliseconds()
	s.keys[key] = &entry{value: data, expireAt: expiry}
	s.addMember(keys.Sessions(tenantID), sessionID, expiry, s.sessionTTL, nowMs)
	return nil
}

// Delete ends a session of the tenant and frees its place; an unknown
// session is an error matching [store.ErrNotFound].
func (r *Sessions) Delete(ctx context.Context, tenantID, sessionID string) error {
	if err := r.s.remove(ctx, tenantID, sessionID, keys.Session, keys.Sessions); err != nil {
		return fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, err)
	}
	return nil
}
