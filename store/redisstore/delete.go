package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Delete removes the tenant and all of its data, publishes
// [store.EventDeleted], and returns the number of Redis keys removed: the
// metadata key, the domain key and the claim of the OIDC issuer and
// audience (each while it names this tenant) and every tenant:{id}:* key
// (each client and session record, the client and session sets while they
// have members, each limiter key). The index entry is a member of a shared
// key, not a key, and is not counted; memstore counts the same way.
//
// The record, index entry and claims go first, so the tenant stops being
// served (and the event goes out) before its data is swept. The record is
// removed only while it still holds what was read, after the claims it
// names: a concurrent Update that moved the custom domain or the issuer
// and audience meanwhile never leaves a claim naming the ID. The data is
// found with SCAN on every master, never KEYS, and removed with UNLINK, in
// batches of Config.DeleteBatch. The pattern tenant:{id}:* cannot match
// another tenant's keys: the '}' after the ID ends it, so "acme" never
// reaches "acme-corp" or "acme2". When there is no record but data is left
// (a delete that was interrupted), the data is still swept; only when
// nothing at all was removed is the answer [store.ErrTenantNotFound].
//
// The data of a delete that was interrupted is never inherited by a tenant
// created later under the same ID. Before it changes anything, Delete sets
// the tenant's marker keys.Deleting (in the tenant's slot, outside the
// swept pattern, not counted in the answer); it removes the marker only
// once the sweep found every key, and [Tenants.Create] refuses the ID with
// [store.ErrDeleteUnfinished] while the marker exists. A delete that fails
// or is canceled midway leaves the marker: the delete must be finished, by
// calling Delete again (which also clears a marker left with no data), before
// the ID can be created again. When the marker cannot be set, Delete returns
// the error and removes nothing.
//
// Each marker holds a random token of its Delete, which clears it only
// while it still holds that token: of two Deletes of one ID at once, the
// one that ends first leaves the other's marker, so the ID stays refused
// until the last sweep is done.
//
// A write that lands in the tenant's namespace while the sweep runs (a
// request that was in flight during the delete, a replica that still holds
// the tenant) cannot survive it: every write that creates a record there
// (a client, a session, a grant, an admin key, an audit event, usage)
// checks the tenant's record in the same script and writes nothing when
// it is gone. Rate-limit state may still be written; it holds nothing of
// value and expires within minutes. Tenant default is the exception for
// clients, sessions and grants: single-tenant mode serves it without a
// record.
func (r *Tenants) Delete(ctx context.Context, id string) (int64, error) {
	s := r.s
	if err := tenant.ValidateID(id); err != nil {
		return 0, fmt.Errorf("redisstore: %w", err)
	}
	// The marker goes first, on the caller's context: when it cannot be
	// set (or the caller gave up already), nothing has been removed.
	token := rand.Text()
	if err := s.rdb.Set(ctx, keys.Deleting(id), token, 0).Err(); err != nil {
		return 0, fmt.Errorf("redisstore: mark delete of tenant %q: %w", id, err)
	}
	// Off the set of inactive tenants next: a delete that fails later
	// leaves at worst an inactive tenant unlisted, which replicas read
	// before refusing it.
	if err := s.listActive(ctx, id); err != nil {
		return 0, err
	}
	n, err := s.removeRecord(ctx, id)
	if err != nil {
		return n, err
	}
	// The record is gone: the index entry and the event follow even when
	// the caller gives up now, so that the other replicas stop serving
	// the tenant. The sweep below stays the caller's to cancel; a retry
	// finishes it.
	done, cancel := committed(ctx)
	defer cancel()
	if err := s.rdb.ZRem(done, keys.Index, id).Err(); err != nil {
		return n, fmt.Errorf("redisstore: unindex tenant %q: %w", id, err)
	}
	// Announce the delete before the sweep, which may take a while: the
	// tenant must stop being served everywhere now.
	// A failure to publish does not stop the sweep: the tenant is gone
	// either way, and its data must go with it.
	published := n > 0
	var pubErr error
	if published {
		pubErr = s.publish(done, store.EventDeleted, id)
	}
	swept, err := s.sweep(ctx, keys.Prefix(id)+"*")
	n += swept
	if err != nil {
		return n, fmt.Errorf("redisstore: delete data of tenant %q: %w", id, err)
	}
	// The sweep is done: the ID may be created again, even when the
	// caller gives up now, unless another Delete set the marker since and
	// still sweeps.
	if err := delIfValueScript.Run(done, s.rdb, []string{keys.Deleting(id)}, token).Err(); err != nil {
		return n, fmt.Errorf("redisstore: unmark delete of tenant %q: %w", id, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("redisstore: %w: %q", store.ErrTenantNotFound, id)
	}
	if !published {
		// Only leftovers were found: announce the delete now.
		pubErr = s.publish(ctx, store.EventDeleted, id)
	}
	return n, pubErr
}

// removeRecord removes the tenant's record and the claims it names (its
// custom domain, its issuer and audience), and returns how many keys it
// removed.
//
// The claims go before the record that names them, so that a delete that
// fails between the two is finished by a retry. The record is removed only
// while it still holds what was read: an Update that replaced it meanwhile
// has claimed a new domain or pair that the record now names, and that
// nothing would release once the record is gone (a tenant created later
// under the ID would be reached at that domain), so the record is read
// again and the new claims released too. An Update that comes after the
// removal finds no record and releases what it claimed. A record that
// does not decode is deleted all the same; only its claims cannot be
// found.
func (s *Store) removeRecord(ctx context.Context, id string) (int64, error) {
	var n int64
	for range updateAttempts {
		data, err := s.rdb.Get(ctx, keys.Metadata(id)).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return n, nil
		case err != nil:
			return n, fmt.Errorf("redisstore: get tenant %q: %w", id, err)
		}
		var old tenant.Tenant
		if json.Unmarshal([]byte(data), &old) == nil {
			for _, claim := range claims(&old) {
				removed, err := delIfValueScript.Run(ctx, s.rdb, []string{claim}, id).Int64()
				if err != nil {
					return n, fmt.Errorf("redisstore: delete claim of tenant %q: %w", id, err)
				}
				n += removed
			}
			if old.Domain != "" {
				s.unlistDomain(ctx, old.Domain)
			}
			if pair, ok := oidcPair(&old); ok {
				s.unlistPair(ctx, pair)
			}
		}
		removed, err := delIfValueScript.Run(ctx, s.rdb, []string{keys.Metadata(id)}, data).Int64()
		if err != nil {
			return n, fmt.Errorf("redisstore: delete tenant %q: %w", id, err)
		}
		if removed == 1 {
			return n + 1, nil
		}
	}
	return n, fmt.Errorf("redisstore: delete tenant %q: changed concurrently %d times", id, updateAttempts)
}

// sweep unlinks every key matching pattern on every master and returns how
// many it removed.
func (s *Store) sweep(ctx context.Context, pattern string) (int64, error) {
	var total atomic.Int64
	err := s.eachMaster(ctx, func(ctx context.Context, c redis.Cmdable) error {
		n, err := sweepNode(ctx, c, pattern, s.batch)
		total.Add(n)
		return err
	})
	return total.Load(), err
}

// eachMaster runs fn with the client of every master: on a cluster each
// master's own client, at once (the cluster client's hooks do not see
// their commands), on a ring each shard's, and otherwise the store's
// client.
func (s *Store) eachMaster(ctx context.Context, fn func(ctx context.Context, c redis.Cmdable) error) error {
	each := func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) }
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, each)
	case *redis.Ring:
		return c.ForEachShard(ctx, each)
	}
	return fn(ctx, s.rdb)
}

// scanNode SCANs one node for pattern, batch keys at a time, and hands fn
// each page it finds that is not empty.
func scanNode(ctx context.Context, c redis.Cmdable, pattern string, batch int, fn func(found []string) error) error {
	var cursor uint64
	for {
		found, next, err := c.Scan(ctx, cursor, pattern, int64(batch)).Result()
		if err != nil {
			return err
		}
		if len(found) > 0 {
			if err := fn(found); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// sweepNode SCANs one node for pattern, batch keys at a time, and UNLINKs
// what it finds, never more than batch keys at once. Every key it finds is
// of one tenant, so of one slot: the UNLINK is never CROSSSLOT.
func sweepNode(ctx context.Context, c redis.Cmdable, pattern string, batch int) (int64, error) {
	var n int64
	err := scanNode(ctx, c, pattern, batch, func(found []string) error {
		for len(found) > 0 {
			chunk := found[:min(batch, len(found))]
			found = found[len(chunk):]
			removed, err := c.Unlink(ctx, chunk...).Result()
			n += removed
			if err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// claims returns the keys t holds as its own outside its hash slot: its
// custom domain and the claim of its OIDC issuer and audience.
func claims(t *tenant.Tenant) []string {
	var ks []string
	if t.Domain != "" {
		ks = append(ks, keys.Domain(t.Domain))
	}
	if pair, ok := oidcPair(t); ok {
		ks = append(ks, keys.OIDCClaim(pair))
	}
	return ks
}
