package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

// Create starts a session of userID in the tenant for the session lifetime.
// It returns an error matching [store.ErrExists] when the session ID is
// taken, [store.ErrLimit] when maxSessions > 0 live sessions exist already,
// and [store.ErrTenantNotFound] when the tenant does not exist (nothing is
// written).
func (r *Sessions) Create(ctx context.Context, tenantID, sessionID, userID string, maxSessions int) (*store.Session, error) {
	return r.Admit(ctx, tenantID, sessionID, store.Owner{Subject: userID}, store.SessionLimits{MaxSessions: maxSessions})
}

// Admit starts a session of owner in the tenant for the session lifetime.
// It returns an error matching [store.ErrExists] when the session ID is
// taken, [store.ErrLimit] when limits.MaxSessions > 0 live sessions exist
// already, [store.ErrOwnerLimit] when limits.PerOwner > 0 and the owner
// holds that many, and [store.ErrTenantNotFound] when the tenant does not
// exist (nothing is written).
func (r *Sessions) Admit(ctx context.Context, tenantID, sessionID string, owner store.Owner, limits store.SessionLimits) (*store.Session, error) {
	s := r.s
	var admitted *store.Session
	err := s.locked(checkKey(ctx, tenantID, sessionID, "session ID"), func(now time.Time, nowMs int64) error {
		if s.unrecorded(tenantID, nowMs) {
			return fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, store.ErrTenantNotFound)
		}
		sess := &store.Session{UserID: owner.Subject, Issuer: owner.Issuer, TenantID: tenantID, CreatedAt: now, LastAccessedAt: now}
		data, err := json.Marshal(sess)
		if err != nil {
			return fmt.Errorf("memstore: encode session: %w", err)
		}
		key, set := keys.Session(tenantID, sessionID), keys.Sessions(tenantID)
		if limits.PerOwner > 0 && s.get(key, nowMs) == nil &&
			(limits.MaxSessions <= 0 || s.liveMembers(set, nowMs) < limits.MaxSessions) &&
			s.owned(tenantID, owner.Field(), nowMs) >= limits.PerOwner {
			return fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, store.ErrOwnerLimit)
		}
		err = s.admit(key, set, sessionID, data, s.sessionTTL, limits.MaxSessions, nowMs)
		if err != nil {
			return fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, err)
		}
		if limits.PerOwner > 0 {
			// The owners' index is one key, like redisstore's hash; a member
			// is "<session ID> <owner field>" (a session ID has no space).
			s.addMember(keys.SessionOwners(tenantID), sessionID+" "+owner.Field(), 0, s.sessionTTL, nowMs)
		}
		admitted = sess
		return nil
	})
	return admitted, err
}

// liveMembers returns how many members of set have not expired. The caller
// holds s.mu.
func (s *Store) liveMembers(set string, nowMs int64) int {
	z := s.get(set, nowMs)
	if z == nil {
		return 0
	}
	n := 0
	for _, expiry := range z.zset {
		if expiry > nowMs {
			n++
		}
	}
	return n
}

// owned returns how many live sessions of the tenant the owner with field
// holds, forgetting the index entries of sessions that ended. The caller
// holds s.mu.
func (s *Store) owned(tenantID, field string, nowMs int64) int {
	idx := s.get(keys.SessionOwners(tenantID), nowMs)
	if idx == nil {
		return 0
	}
	live := s.get(keys.Sessions(tenantID), nowMs)
	n := 0
	for m := range idx.zset {
		id, f, _ := strings.Cut(m, " ")
		expiry, ok := int64(0), false
		if live != nil {
			expiry, ok = live.zset[id]
		}
		switch {
		case !ok || expiry <= nowMs:
			delete(idx.zset, m)
		case f == field:
			n++
		}
	}
	if len(idx.zset) == 0 {
		delete(s.keys, keys.SessionOwners(tenantID))
	}
	return n
}

// Get returns a live session of the tenant without extending it, or an
// error matching [store.ErrNotFound].
func (r *Sessions) Get(ctx context.Context, tenantID, sessionID string) (*store.Session, error) {
	return readJSON[store.Session](ctx, r.s, tenantID, sessionID, "session", keys.Session)
}

// Touch gives a live session the full session lifetime again, from now,
// and records the access in its lastAccessedAt.
func (r *Sessions) Touch(ctx context.Context, tenantID, sessionID string) error {
	s := r.s
	return s.locked(checkKey(ctx, tenantID, sessionID, "session ID"), func(now time.Time, nowMs int64) error {
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
		if idx := s.get(keys.SessionOwners(tenantID), nowMs); idx != nil && idx.expireAt != 0 && idx.expireAt < expiry {
			idx.expireAt = expiry
		}
		return nil
	})
}

// Delete ends a session of the tenant and frees its place, in the tenant's
// count and in its owner's; an unknown session is an error matching
// [store.ErrNotFound].
func (r *Sessions) Delete(ctx context.Context, tenantID, sessionID string) error {
	s := r.s
	if err := check(ctx, tenantID); err == nil && store.ValidKey(sessionID) == nil {
		s.mu.Lock()
		_, nowMs := s.now()
		if idx := s.get(keys.SessionOwners(tenantID), nowMs); idx != nil {
			for m := range idx.zset {
				if id, _, _ := strings.Cut(m, " "); id == sessionID {
					delete(idx.zset, m)
				}
			}
			if len(idx.zset) == 0 {
				delete(s.keys, keys.SessionOwners(tenantID))
			}
		}
		s.mu.Unlock()
	}
	if err := s.remove(ctx, tenantID, sessionID, keys.Session, keys.Sessions); err != nil {
		return fmt.Errorf("memstore: session %q of %q: %w", sessionID, tenantID, err)
	}
	return nil
}
