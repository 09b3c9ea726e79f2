package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// updateAttempts bounds the retries of an Update that lost a race with
// another write of the same tenant.
const updateAttempts = 10

// undoTimeout bounds the rollback of a write that failed halfway.
const undoTimeout = 5 * time.Second

// Get returns the tenant with the given ID, whatever its status, or an
// error matching [store.ErrTenantNotFound]. One round trip: GET.
func (r *Tenants) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	if err := tenant.ValidateID(id); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	t, _, err := r.s.read(ctx, id)
	return t, err
}

// read returns the tenant and its record as stored.
func (s *Store) read(ctx context.Context, id string) (*tenant.Tenant, string, error) {
	data, err := s.rdb.Get(ctx, keys.Metadata(id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", fmt.Errorf("redisstore: %w: %q", store.ErrTenantNotFound, id)
	}
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: get tenant %q: %w", id, err)
	}
	t, err := decodeTenant(id, data)
	if err != nil {
		return nil, "", err
	}
	return t, data, nil
}

// decodeTenant decodes the record of tenant id. A record that names
// another tenant (one copied under the wrong key by hand, say) is refused
// like one that does not decode, rather than served as the tenant it
// names under this one's ID.
func decodeTenant(id, data string) (*tenant.Tenant, error) {
	t := new(tenant.Tenant)
	if err := json.Unmarshal([]byte(data), t); err != nil {
		return nil, undecodable(id, err)
	}
	if t.ID != id {
		return nil, fmt.Errorf("redisstore: %w: tenant %q: the record names another tenant", ErrUndecodable, id)
	}
	return t, nil
}

// LookupDomain returns the ID of the tenant whose custom domain is host. A
// host that is not a valid domain name cannot belong to a tenant and is not
// found, without asking Redis. One round trip: GET.
func (r *Tenants) LookupDomain(ctx context.Context, host string) (string, error) {
	if !tenant.ValidDomain(host) {
		return "", fmt.Errorf("redisstore: %w: domain %q", store.ErrTenantNotFound, host)
	}
	id, err := r.s.rdb.Get(ctx, keys.Domain(host)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redisstore: %w: domain %q", store.ErrTenantNotFound, host)
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: get domain %q: %w", host, err)
	}
	return id, nil
}

// Create validates t, stamps it and stores it, then publishes
// [store.EventCreated]. A taken domain is [store.ErrDomainExists], an OIDC
// issuer and audience another tenant trusts already
// [store.ErrIssuerAudienceExists], and a taken ID [store.ErrTenantExists].
//
// The data of a delete that was interrupted is never inherited by a tenant
// created later under the same ID: while a [Tenants.Delete] of the ID has
// begun and not finished (it failed, or its caller gave up, midway), Create
// refuses with [store.ErrDeleteUnfinished], releasing what it claimed, as
// for a taken ID. Deleting the tenant again finishes the delete; Create
// succeeds after it.
//
// The domain and issuer claims live in other hash slots than the tenant's
// keys, so the steps are separate commands, never one script or
// transaction (that would fail with CROSSSLOT on a cluster): the domain is
// claimed with SET NX first, then the issuer and audience, then the record
// (by a script that also checks the delete marker, in the record's slot),
// then the ID joins the index. A step that fails undoes the ones before
// it, and a claim is only ever released while it still names this tenant. The set of domains, the set of issuer and audience pairs
// and the set of inactive tenants, which replicas load through
// [Tenants.Domains], [Tenants.Issuers] and [Tenants.InactiveIDs], are kept
// in step around these steps (see directory.go for the order).
func (r *Tenants) Create(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error) {
	s := r.s
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	now := s.now()
	rec := *t
	rec.CreatedAt, rec.UpdatedAt = now, now
	data, err := json.Marshal(&rec)
	if err != nil {
		return nil, fmt.Errorf("redisstore: encode tenant %q: %w", rec.ID, err)
	}
	if rec.Domain != "" {
		if _, err := s.claimDomain(ctx, rec.Domain, rec.ID, true); err != nil {
			return nil, err
		}
	}
	// The pair may already name this ID: then the ID is what is taken
	// (the same tenant created twice), and the claim is not this call's
	// to release.
	pair, hasPair := oidcPair(&rec)
	pairClaimed := false
	release := func() {
		s.releaseDomain(ctx, rec.Domain, rec.ID)
		if pairClaimed {
			s.releasePair(ctx, pair, rec.ID)
		}
	}
	if hasPair {
		if pairClaimed, err = s.claimPair(ctx, pair, rec.ID, rec.OIDC.Issuer); err != nil {
			release()
			return nil, err
		}
	}
	// The record is stored only while no delete of the same ID is
	// unfinished (the create script reads its marker beside the record).
	stored, err := createScript.Run(ctx, s.rdb, []string{keys.Metadata(rec.ID), keys.Deleting(rec.ID)}, data).Int()
	if err != nil || stored != 1 {
		release()
		switch {
		case err != nil:
			return nil, fmt.Errorf("redisstore: create tenant %q: %w", rec.ID, err)
		case stored < 0:
			return nil, fmt.Errorf("redisstore: %w: %q", store.ErrDeleteUnfinished, rec.ID)
		}
		return nil, fmt.Errorf("redisstore: %w: %q", store.ErrTenantExists, rec.ID)
	}
	if err := s.rdb.ZAdd(ctx, keys.Index, redis.Z{Member: rec.ID}).Err(); err != nil {
		s.undo(ctx, keys.Metadata(rec.ID), string(data))
		release()
		return nil, fmt.Errorf("redisstore: index tenant %q: %w", rec.ID, err)
	}
	// The tenant exists from here on: what follows must run even when
	// the caller gives up now.
	ctx, cancel := committed(ctx)
	defer cancel()
	// An active tenant is taken off the set too: an earlier tenant of the
	// same ID may have been left on it by a write that did not finish.
	listErr := s.listStatus(ctx, rec.ID, rec.Active())
	if err := s.publish(ctx, store.EventCreated, rec.ID); err != nil {
		return &rec, err
	}
	return &rec, listErr
}

// claimNew makes key name id with SET NX; a key that exists already, even
// naming id, is taken (wrapped in the sentinel taken, with what).
func (s *Store) claimNew(ctx context.Context, key, id string, taken error, what string) error {
	ok, err := s.rdb.SetNX(ctx, key, id, 0).Result()
	if err != nil {
		return fmt.Errorf("redisstore: claim %q: %w", what, err)
	}
	if !ok {
		return fmt.Errorf("redisstore: %w: %q", taken, what)
	}
	return nil
}

// oidcPair returns the name of t's OIDC issuer and audience pair (its
// store.IssuerPair, of which keys.OIDCClaim is the claim key), and whether
// t has OIDC settings to claim.
func oidcPair(t *tenant.Tenant) (string, bool) {
	if !t.OIDC.Configured() {
		return "", false
	}
	return keys.Pair(t.OIDC.Issuer, t.OIDC.Audience), true
}

// Update replaces the mutable fields of an existing tenant, keeping its ID
// and CreatedAt, moves its custom domain and its OIDC issuer and audience
// claim when they changed, and publishes [store.EventUpdated].
//
// The record is replaced only if it still holds what was read (the replace
// script), so concurrent updates never lose one another's changes: the
// loser reads again and retries. A new domain (or issuer and audience) is
// claimed before the record names it and the old one is released after:
// for a moment both name the tenant, but at no moment does the record name
// an unclaimed one.
func (r *Tenants) Update(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error) {
	return r.update(ctx, nil, t)
}

// Swap is Update made only while the stored tenant is still read, whole;
// otherwise it returns [store.ErrConflict].
func (r *Tenants) Swap(ctx context.Context, read, t *tenant.Tenant) (*tenant.Tenant, error) {
	return r.update(ctx, read, t)
}

// update is Update, and Swap when read is not nil.
func (r *Tenants) update(ctx context.Context, read, t *tenant.Tenant) (*tenant.Tenant, error) {
	s := r.s
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	newPair, hasPair := oidcPair(t)
	// Claims are sticky across attempts: t's domain and issuer never
	// change, so what one attempt claimed stays claimed for the next.
	domainClaimed, pairClaimed := false, false
	fail := func(err error) (*tenant.Tenant, error) {
		if domainClaimed {
			s.releaseDomain(ctx, t.Domain, t.ID)
		}
		if pairClaimed {
			s.releasePair(ctx, newPair, t.ID)
		}
		return nil, err
	}
	for range updateAttempts {
		old, oldData, err := s.read(ctx, t.ID)
		if err != nil {
			return fail(err)
		}
		if read != nil && !sameRecord(old, read) {
			return fail(fmt.Errorf("redisstore: %w: %q", store.ErrConflict, t.ID))
		}
		rec := *t
		rec.CreatedAt, rec.UpdatedAt = old.CreatedAt, s.now()
		data, err := json.Marshal(&rec)
		if err != nil {
			return fail(fmt.Errorf("redisstore: encode tenant %q: %w", rec.ID, err))
		}
		if rec.Domain != "" && rec.Domain != old.Domain && !domainClaimed {
			if domainClaimed, err = s.claimDomain(ctx, rec.Domain, rec.ID, false); err != nil {
				return fail(err)
			}
		}
		oldPair, hadPair := oidcPair(old)
		if hasPair && newPair != oldPair && !pairClaimed {
			if pairClaimed, err = s.claimPair(ctx, newPair, rec.ID, rec.OIDC.Issuer); err != nil {
				return fail(err)
			}
		}
		if rec.Active() {
			if err := s.listActive(ctx, rec.ID); err != nil {
				return fail(err)
			}
		}
		res, err := replaceScript.Run(ctx, s.rdb, []string{keys.Metadata(rec.ID)}, oldData, data).Int()
		switch {
		case err != nil:
			return fail(fmt.Errorf("redisstore: update tenant %q: %w", rec.ID, err))
		case res == 0:
			continue // changed meanwhile: read it again
		case res < 0:
			return fail(fmt.Errorf("redisstore: %w: %q", store.ErrTenantNotFound, rec.ID))
		}
		// The record is replaced: the old claims are released and the
		// event published even when the caller gives up now.
		ctx, cancel := committed(ctx)
		defer cancel()
		listErr := s.listStatus(ctx, rec.ID, rec.Active())
		if old.Domain != "" && old.Domain != rec.Domain {
			if err := delIfValueScript.Run(ctx, s.rdb, []string{keys.Domain(old.Domain)}, rec.ID).Err(); err != nil {
				return nil, fmt.Errorf("redisstore: release domain %q: %w", old.Domain, err)
			}
			s.unlistDomain(ctx, old.Domain)
		}
		if hadPair && oldPair != newPair {
			if err := delIfValueScript.Run(ctx, s.rdb, []string{keys.OIDCClaim(oldPair)}, rec.ID).Err(); err != nil {
				return nil, fmt.Errorf("redisstore: release oidc issuer %q: %w", old.OIDC.Issuer, err)
			}
			s.unlistPair(ctx, oldPair)
		}
		if err := s.publish(ctx, store.EventUpdated, rec.ID); err != nil {
			return &rec, err
		}
		return &rec, listErr
	}
	return fail(fmt.Errorf("redisstore: update tenant %q: changed concurrently %d times", t.ID, updateAttempts))
}

// sameRecord reports whether two tenants would be stored as the same
// record. Comparing whole records rather than UpdatedAt alone keeps two
// swaps of one read made within one millisecond (the resolution of
// UpdatedAt) from both passing, as memstore does.
func sameRecord(a, b *tenant.Tenant) bool {
	da, errA := json.Marshal(a)
	db, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(da) == string(db)
}

// claim makes key name id. It reports whether this call claimed it (false
// when key already named id); a key that names another tenant is the
// sentinel taken, wrapped with what.
func (s *Store) claim(ctx context.Context, key, id string, taken error, what string) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, key, id, 0).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: claim %q: %w", what, err)
	}
	if ok {
		return true, nil
	}
	owner, err := s.rdb.Get(ctx, key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("redisstore: claim %q: %w", what, err)
	}
	if owner != id {
		return false, fmt.Errorf("redisstore: %w: %q", taken, what)
	}
	return false, nil
}

// committed returns the context of the steps that follow a write that
// took effect (the set listings, the release of old claims, the event):
// not canceled with ctx, so that a caller that gives up (a client that
// hangs up) does not leave a claim naming the tenant or the other
// replicas unaware of the change, and bounded by undoTimeout.
func committed(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
}

// undo deletes key while it holds value, to roll back a step of a write
// that failed later. It runs even when ctx was canceled (the step it undoes
// did happen), with its own short timeout, and is best effort: when Redis
// fails here too, the leftover is a claim that the named tenant's record
// does not hold (LookupDomain and LookupIssuer still answer that ID, even
// once it is created again: the root package's Service checks the record
// before it follows a claim; Reindex reports such claims and
// ReleaseStaleClaims removes them), or a record without index entry.
func (s *Store) undo(ctx context.Context, key, value string) {
	ctx, cancel := committed(ctx)
	defer cancel()
	_ = delIfValueScript.Run(ctx, s.rdb, []string{key}, value).Err()
}

// publish announces a change of a tenant on keys.Events. The write it
// announces has happened; a failure to publish is an error wrapping
// store.ErrNotPublished, returned with the result, so that the caller knows
// the change was made but other replicas' caches may stay stale until their
// entries expire.
func (s *Store) publish(ctx context.Context, typ store.EventType, id string) error {
	e := store.Event{Type: typ, TenantID: id}
	if s.onChange != nil {
		s.onChange(e)
	}
	msg, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redisstore: encode event: %w", err)
	}
	if err := s.sendEvent(ctx, msg); err != nil {
		return fmt.Errorf("redisstore: tenant %q %s: %w: %w", id, typ, store.ErrNotPublished, err)
	}
	return nil
}

// List returns up to limit tenants in ID order after cursor, and the cursor
// of the next page, "" after the last one. limit is normalised by
// [store.ListLimit].
//
// The cursor is the last ID of the previous page and the index is read with
// ZRANGEBYLEX from just after it, so a page is never shifted by tenants
// added or removed elsewhere: every tenant that exists for the whole listing
// is returned exactly once. The records are read with a pipeline of GETs
// rather than MGET, which would fail across slots on a cluster (go-redis
// splits a cluster pipeline by node). Two round trips.
func (r *Tenants) List(ctx context.Context, cursor string, limit int) ([]*tenant.Tenant, string, error) {
	s := r.s
	from := "-"
	if cursor != "" {
		if err := tenant.ValidateID(cursor); err != nil {
			return nil, "", fmt.Errorf("redisstore: cursor: %w", err)
		}
		from = "(" + cursor
	}
	limit = store.ListLimit(limit)
	// One more than a page tells whether another page follows.
	ids, err := s.rdb.ZRangeByLex(ctx, keys.Index, &redis.ZRangeBy{Min: from, Max: "+", Count: int64(limit + 1)}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: list tenants: %w", err)
	}
	next := ""
	if len(ids) > limit {
		ids = ids[:limit]
		next = ids[limit-1]
	}
	if len(ids) == 0 {
		return []*tenant.Tenant{}, "", nil
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, keys.Metadata(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", fmt.Errorf("redisstore: list tenants: %w", err)
	}
	page := make([]*tenant.Tenant, 0, len(ids))
	for i, cmd := range cmds {
		data, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			// An index entry without a record: a tenant being created or
			// deleted at this moment. Skipped.
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("redisstore: list tenants: %w", err)
		}
		t, err := decodeTenant(ids[i], data)
		if err != nil {
			return nil, "", err
		}
		page = append(page, t)
	}
	return page, next, nil
}
