package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
)

// Register stores c under the tenant for the client lifetime. It returns an
// error matching [store.ErrExists] when the client ID is taken,
// [store.ErrLimit] when maxClients > 0 live clients exist already, and
// [store.ErrTenantNotFound] when the tenant does not exist (nothing is
// written).
func (r *Clients) Register(ctx context.Context, tenantID string, c *store.Client, maxClients int) error {
	s := r.s
	return s.locked(checkClient(ctx, tenantID, c), func(_ time.Time, nowMs int64) error {
		data, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("memstore: encode client: %w", err)
		}
		if s.unrecorded(tenantID, nowMs) {
			return fmt.Errorf("memstore: client %q of %q: %w", c.ClientID, tenantID, store.ErrTenantNotFound)
		}
		err = s.admit(keys.Client(tenantID, c.ClientID), keys.Clients(tenantID), c.ClientID, data, s.clientTTL, maxClients, nowMs)
		if err != nil {
			return fmt.Errorf("memstore: client %q of %q: %w", c.ClientID, tenantID, err)
		}
		return nil
	})
}

// checkClient validates the arguments of Register.
func checkClient(ctx context.Context, tenantID string, c *store.Client) error {
	if err := check(ctx, tenantID); err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("memstore: nil client: %w", store.ErrInvalidKey)
	}
	if err := store.ValidKey(c.ClientID); err != nil {
		return fmt.Errorf("memstore: client ID: %w", err)
	}
	return nil
}

// Get returns a live client of the tenant, or an error matching
// [store.ErrNotFound].
func (r *Clients) Get(ctx context.Context, tenantID, clientID string) (*store.Client, error) {
	return readJSON[store.Client](ctx, r.s, tenantID, clientID, "client", keys.Client)
}

// Delete removes a client of the tenant and frees its place; an unknown
// client is an error matching [store.ErrNotFound].
func (r *Clients) Delete(ctx context.Context, tenantID, clientID string) error {
	s := r.s
	if err := s.remove(ctx, tenantID, clientID, keys.Client, keys.Clients); err != nil {
		return fmt.Errorf("memstore: client %q of %q: %w", clientID, tenantID, err)
	}
	return nil
}

// admit is the memory twin of redisstore's admit script: it forgets the
// members of set that have expired, refuses a taken record key or a full
// set, then stores the record and its member with the same expiry. The
// caller holds s.mu.
func (s *Store) admit(key, set, member string, value []byte, ttl time.Duration, max int, nowMs int64) error {
	z := s.get(set, nowMs)
	if z != nil {
		for m, expiry := range z.zset {
			if expiry <= nowMs {
				delete(z.zset, m)
			}
		}
		if len(z.zset) == 0 {
			delete(s.keys, set)
			z = nil
		}
	}
	if s.get(key, nowMs) != nil {
		return store.ErrExists
	}
	if max > 0 && z != nil && len(z.zset) >= max {
		return store.ErrLimit
	}
	expiry := nowMs + ttl.Milliseconds()
	s.keys[key] = &entry{value: value, expireAt: expiry}
	s.addMember(set, member, expiry, ttl, nowMs)
	return nil
}

// addMember sets the score of member in set and makes the set live at
// least as long as the member, like ZADD followed by the conditional
// PEXPIRE of the scripts: a new set gets the member's lifetime, and an
// existing set without expiry keeps none. The caller holds s.mu.
func (s *Store) addMember(set, member string, expiry int64, ttl time.Duration, nowMs int64) {
	z := s.get(set, nowMs)
	if z == nil {
		z = &entry{zset: map[string]int64{}, expireAt: nowMs + ttl.Milliseconds()}
		s.keys[set] = z
	}
	z.zset[member] = expiry
	if z.expireAt != 0 && z.expireAt-nowMs < ttl.Milliseconds() {
		z.expireAt = nowMs + ttl.Milliseconds()
	}
}

// readJSON decodes the record keyOf(tenantID, id) into a new T. what names
// the record in errors ("client", "session").
func readJSON[T any](ctx context.Context, s *Store, tenantID, id, what string, keyOf func(string, string) string) (*T, error) {
	data, err := s.read(ctx, tenantID, id, keyOf)
	if err != nil {
		return nil, fmt.Errorf("memstore: %s %q of %q: %w", what, id, tenantID, err)
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("memstore: decode %s %q of %q: %w", what, id, tenantID, err)
	}
	return v, nil
}

// read returns the value of the record keyOf(tenantID, id).
func (s *Store) read(ctx context.Context, tenantID, id string, keyOf func(string, string) string) ([]byte, error) {
	var value []byte
	err := s.locked(checkRecord(ctx, tenantID, id), func(_ time.Time, nowMs int64) error {
		e := s.get(keyOf(tenantID, id), nowMs)
		if e == nil {
			return store.ErrNotFound
		}
		value = e.value
		return nil
	})
	return value, err
}

// remove deletes the record keyOf(tenantID, id) and its member of
// setOf(tenantID), the memory twin of redisstore's remove script.
func (s *Store) remove(ctx context.Context, tenantID, id string, keyOf func(string, string) string, setOf func(string) string) error {
	return s.locked(checkRecord(ctx, tenantID, id), func(_ time.Time, nowMs int64) error {
		live := s.get(keyOf(tenantID, id), nowMs) != nil
		delete(s.keys, keyOf(tenantID, id))
		if z := s.get(setOf(tenantID), nowMs); z != nil {
			delete(z.zset, id)
			if len(z.zset) == 0 {
				delete(s.keys, setOf(tenantID))
			}
		}
		if !live {
			return store.ErrNotFound
		}
		return nil
	})
}

// checkRecord validates the arguments of read and remove; the caller
// wraps its errors.
func checkRecord(ctx context.Context, tenantID, id string) error {
	if err := check(ctx, tenantID); err != nil {
		return err
	}
	return store.ValidKey(id)
}
