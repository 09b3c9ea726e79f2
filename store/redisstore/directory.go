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

var _ store.Directory = (*Tenants)(nil)

// TenantIDs lists every tenant ID from the index, in pages of
// [store.DirectoryBatch] read with ZRANGEBYLEX: one round trip per page.
func (r *Tenants) TenantIDs(ctx context.Context, fn func(ids []string) error) error {
	return r.s.scanLex(ctx, keys.Index, fn)
}

// InactiveIDs lists the IDs of the tenants that are not active, from the
// set Create, Update and Delete keep beside the index.
func (r *Tenants) InactiveIDs(ctx context.Context, fn func(ids []string) error) error {
	return r.s.scanLex(ctx, keys.Inactive, fn)
}

// Domains lists every custom domain with the tenant it names: a page of
// hosts from the set of domains, then their domain keys in one pipeline
// (a cluster client splits it by node). A host whose key is gone (a domain
// being released at this moment) is left out. Two round trips per page.
func (r *Tenants) Domains(ctx context.Context, fn func(hosts, ids []string) error) error {
	return r.s.listOwned(ctx, keys.Domains, keys.Domain, "domains", fn)
}

// Issuers lists every OIDC issuer and audience pair with the tenant that
// trusts it, like Domains: a page of pairs from the set of pairs, then
// their claim keys in one pipeline. A pair whose claim is gone (being
// released at this moment) is left out. Two round trips per page.
func (r *Tenants) Issuers(ctx context.Context, fn func(pairs, ids []string) error) error {
	return r.s.listOwned(ctx, keys.Issuers, keys.OIDCClaim, "issuers", fn)
}

// listOwned hands fn the members of the sorted set of names set, a page at
// a time, each with the tenant its key (keyOf) names, read in one pipeline
// per page (a cluster client splits it by node). A name whose key is gone
// is left out.
func (s *Store) listOwned(ctx context.Context, set string, keyOf func(string) string, what string, fn func(names, ids []string) error) error {
	return s.scanLex(ctx, set, func(page []string) error {
		cmds := make([]*redis.StringCmd, len(page))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, name := range page {
				cmds[i] = p.Get(ctx, keyOf(name))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redisstore: list %s: %w", what, err)
		}
		names, ids := make([]string, 0, len(page)), make([]string, 0, len(page))
		for i, cmd := range cmds {
			id, err := cmd.Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return fmt.Errorf("redisstore: list %s: %w", what, err)
			}
			names, ids = append(names, page[i]), append(ids, id)
		}
		return fn(names, ids)
	})
}

// scanLex hands the members of the sorted set key (all scores 0) to fn in
// lexicographic order, a page at a time. Each page starts just after the
// last member of the one before, so members added or removed meanwhile
// never shift a page: every member present for the whole listing is seen
// exactly once.
func (s *Store) scanLex(ctx context.Context, key string, fn func([]string) error) error {
	from := "-"
	for {
		page, err := s.rdb.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: from, Max: "+", Count: store.DirectoryBatch}).Result()
		if err != nil {
			return fmt.Errorf("redisstore: list %s: %w", key, err)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if len(page) < store.DirectoryBatch {
			return nil
		}
		from = "(" + page[len(page)-1]
	}
}

// The set of domains, the set of issuer and audience pairs and the set of
// inactive tenants live in other hash
// slots than the keys they describe, so they are kept in step with
// separate commands, ordered so that what a crash or a race can leave
// behind errs on the harmless side: a domain listed without a key (a
// replica then looks it up and finds nothing), a pair listed without a
// claim (likewise), or a suspended tenant not
// listed as inactive (a replica then reads it before refusing it). The
// other way round, a live domain missing from the set, or an active tenant
// listed as inactive, would turn a real tenant away.

// claimDomain makes host name id, like claim, and lists it in the set of
// domains before and after: before, so that a crash after the claim cannot
// leave the domain unlisted; after, so that a concurrent release of the
// same host (which unlists it) cannot either.
func (s *Store) claimDomain(ctx context.Context, host, id string, strict bool) (bool, error) {
	if err := s.rdb.ZAdd(ctx, keys.Domains, redis.Z{Member: host}).Err(); err != nil {
		return false, fmt.Errorf("redisstore: claim %q: %w", host, err)
	}
	var claimed bool
	var err error
	if strict {
		err = s.claimNew(ctx, keys.Domain(host), id, store.ErrDomainExists, host)
		claimed = err == nil
	} else {
		claimed, err = s.claim(ctx, keys.Domain(host), id, store.ErrDomainExists, host)
	}
	if err != nil || !claimed {
		return false, err
	}
	if err := s.rdb.ZAdd(ctx, keys.Domains, redis.Z{Member: host}).Err(); err != nil {
		s.releaseDomain(ctx, host, id)
		return false, fmt.Errorf("redisstore: claim %q: %w", host, err)
	}
	return true, nil
}

// unlistDomain removes host from the set of domains after its key was
// deleted, and lists it again if another tenant claimed it meanwhile. It is
// best effort: a host left listed only costs a lookup that finds nothing.
func (s *Store) unlistDomain(ctx context.Context, host string) {
	s.unlist(ctx, keys.Domains, host, keys.Domain(host))
}

// releaseDomain undoes a domain claim of id, if host is not empty.
func (s *Store) releaseDomain(ctx context.Context, host, id string) {
	if host != "" {
		s.release(ctx, keys.Domains, host, keys.Domain(host), id)
	}
}

// claimPair makes the issuer and audience pair (named by its
// store.IssuerPair) name id, like claim, and lists it in the set of pairs
// before and after, for the reasons claimDomain does. what names the pair
// in errors (its issuer). It reports whether this call claimed it: false,
// without error, when the pair already named id.
func (s *Store) claimPair(ctx context.Context, pair, id, what string) (bool, error) {
	if err := s.rdb.ZAdd(ctx, keys.Issuers, redis.Z{Member: pair}).Err(); err != nil {
		return false, fmt.Errorf("redisstore: claim %q: %w", what, err)
	}
	claimed, err := s.claim(ctx, keys.OIDCClaim(pair), id, store.ErrIssuerAudienceExists, what)
	if err != nil {
		return false, err
	}
	if err := s.rdb.ZAdd(ctx, keys.Issuers, redis.Z{Member: pair}).Err(); err != nil {
		if claimed {
			s.releasePair(ctx, pair, id)
		}
		return false, fmt.Errorf("redisstore: claim %q: %w", what, err)
	}
	return claimed, nil
}

// unlistPair removes pair from the set of pairs after its claim was
// deleted, and lists it again if another tenant claimed it meanwhile. Like
// unlistDomain, it is best effort.
func (s *Store) unlistPair(ctx context.Context, pair string) {
	s.unlist(ctx, keys.Issuers, pair, keys.OIDCClaim(pair))
}

// releasePair undoes a pair claim of id and unlists the pair.
func (s *Store) releasePair(ctx context.Context, pair, id string) {
	s.release(ctx, keys.Issuers, pair, keys.OIDCClaim(pair), id)
}

// unlist removes member from set after its claim key was deleted, and
// lists it again if another tenant claimed it meanwhile (or if asking
// failed). It is best effort.
func (s *Store) unlist(ctx context.Context, set, member, claim string) {
	if s.rdb.ZRem(ctx, set, member).Err() != nil {
		return
	}
	if n, err := s.rdb.Exists(ctx, claim).Result(); err != nil || n > 0 {
		_ = s.rdb.ZAdd(ctx, set, redis.Z{Member: member}).Err()
	}
}

// release undoes a claim of id, the key claim, and unlists member from
// set, on a context the caller's cancel does not reach.
func (s *Store) release(ctx context.Context, set, member, claim, id string) {
	s.undo(ctx, claim, id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	s.unlist(ctx, set, member, claim)
}

// listActive takes id off the set of inactive tenants. It runs before an
// active record is written, so that a crash between the two leaves an
// inactive tenant unlisted, never an active one listed; and again after,
// because a concurrent suspension may have listed it in between.
func (s *Store) listActive(ctx context.Context, id string) error {
	if err := s.rdb.ZRem(ctx, keys.Inactive, id).Err(); err != nil {
		return fmt.Errorf("redisstore: list tenant %q as active: %w", id, err)
	}
	return nil
}

// listInactive puts id on the set of inactive tenants after its inactive
// record was written, then reads the record again: when a concurrent
// change activated (or deleted) the tenant meanwhile, it takes id off the
// set again, so that the set never keeps an active tenant.
func (s *Store) listInactive(ctx context.Context, id string) error {
	if err := s.rdb.ZAdd(ctx, keys.Inactive, redis.Z{Member: id}).Err(); err != nil {
		return fmt.Errorf("redisstore: list tenant %q as inactive: %w", id, err)
	}
	t, _, err := s.read(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("redisstore: list tenant %q as inactive: %w", id, err)
	case !t.Active():
		return nil
	}
	return s.listActive(ctx, id)
}

// listStatus brings the set of inactive tenants in step with a record just
// written. A failure is returned wrapping [store.ErrNotPublished]: the
// change was made, but other replicas may learn the tenant's status only
// by reading it.
func (s *Store) listStatus(ctx context.Context, id string, active bool) error {
	var err error
	if active {
		err = s.listActive(ctx, id)
	} else {
		err = s.listInactive(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", store.ErrNotPublished, err)
	}
	return nil
}

// Reindex brings the set of inactive tenants, the set of domains, the
// claims of OIDC issuers and audiences and the set of those pairs in step
// with the tenant records, for data written before they existed (or left
// behind by a write that did not finish): it lists every tenant whose
// record is inactive, every custom domain whose key names its tenant, and
// claims and lists each tenant's issuer and audience unless another tenant
// holds them. Create, Update and Delete keep all of them current, so it needs to run once, after an
// upgrade, on a store whose replicas then reload their directories (they
// do every ten minutes). It reads every record, a page at a time, and
// returns an error naming the tenants that share an issuer and audience
// with another, which an operator must change.
func (r *Tenants) Reindex(ctx context.Context) error {
	s := r.s
	var shared []error
	err := s.scanLex(ctx, keys.Index, func(ids []string) error {
		recs := make([]*redis.StringCmd, len(ids))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				recs[i] = p.Get(ctx, keys.Metadata(id))
			}
			return nil
		}); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redisstore: reindex: %w", err)
		}
		for i, cmd := range recs {
			data, err := cmd.Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return fmt.Errorf("redisstore: reindex tenant %q: %w", ids[i], err)
			}
			var t tenant.Tenant
			if err := json.Unmarshal([]byte(data), &t); err != nil {
				return fmt.Errorf("redisstore: reindex: decode tenant %q: %w", ids[i], err)
			}
			if err := s.reindex(ctx, &t); errors.Is(err, store.ErrIssuerAudienceExists) {
				shared = append(shared, err)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(shared...)
}

// reindex lists one tenant's status and domain and claims and lists its
// issuer and audience.
func (s *Store) reindex(ctx context.Context, t *tenant.Tenant) error {
	if err := s.listStatus(ctx, t.ID, t.Active()); err != nil {
		return err
	}
	if t.Domain != "" {
		owner, err := s.rdb.Get(ctx, keys.Domain(t.Domain)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("redisstore: reindex domain %q: %w", t.Domain, err)
		}
		if owner == t.ID {
			if err := s.rdb.ZAdd(ctx, keys.Domains, redis.Z{Member: t.Domain}).Err(); err != nil {
				return fmt.Errorf("redisstore: reindex domain %q: %w", t.Domain, err)
			}
		}
	}
	if pair, ok := oidcPair(t); ok {
		if _, err := s.claimPair(ctx, pair, t.ID, t.OIDC.Issuer); err != nil {
			return fmt.Errorf("tenant %q: %w", t.ID, err)
		}
	}
	return nil
}
