package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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
		cmds, err := getEach(ctx, s.rdb, page, keyOf)
		if err != nil {
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
// do every ten minutes). It reads every record, a page at a time.
//
// It then looks for stale claims: a domain key or an issuer and audience
// claim naming a tenant that has no record, or whose record holds another
// domain or pair, as a Create, Update or Delete that failed midway leaves
// behind. Such a claim keeps every other tenant from the domain or pair.
// The claims are found with SCAN on every master, never KEYS. Reindex
// only reports them: a Create claims before it writes its record, so a
// claim without a record may be a create in progress.
// [Tenants.ReleaseStaleClaims] deletes them.
//
// What an operator must look at does not stop it; it returns those
// problems at the end, joined, one error each: a tenant that shares an
// issuer and audience with another ([store.ErrIssuerAudienceExists]), a
// record that does not decode ([ErrUndecodable], naming the tenant, never
// the record's content) and a stale claim ([ErrStaleClaim], naming the
// key and the tenant). A Redis error stops it and is returned alone; run
// it again, it only adds what is missing.
func (r *Tenants) Reindex(ctx context.Context) error {
	s := r.s
	var problems []error
	err := s.scanLex(ctx, keys.Index, func(ids []string) error {
		recs, err := getEach(ctx, s.rdb, ids, keys.Metadata)
		if err != nil {
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
			t, err := decodeTenant(ids[i], data)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			if err := s.reindex(ctx, t); errors.Is(err, store.ErrIssuerAudienceExists) {
				problems = append(problems, err)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	stale, err := s.staleClaims(ctx)
	if err != nil {
		return fmt.Errorf("redisstore: reindex: %w", err)
	}
	for _, c := range stale {
		problems = append(problems, c.err())
	}
	return errors.Join(problems...)
}

// ErrUndecodable is wrapped by the error a read of a tenant record returns
// ([Tenants.Get], [Tenants.List], [Tenants.Reindex]) when it does not
// decode, or names another tenant than the one whose key holds it. The
// error names the tenant, and never quotes the record, which may hold
// secrets.
var ErrUndecodable = errors.New("tenant record does not decode")

// ErrStaleClaim is wrapped by the error [Tenants.Reindex] returns for a
// domain key or an OIDC issuer and audience claim that names a tenant
// whose record does not hold it (or a tenant without record). The error
// names the key and the tenant.
var ErrStaleClaim = errors.New("stale claim")

// undecodable is the error of the record of tenant id that json.Unmarshal
// refused with err. It says where the record is broken when JSON says so,
// but never quotes it: the messages of json and of the tenant's own
// decoders may hold a piece of the record.
func undecodable(id string, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	why := "a field holds a value a tenant cannot have"
	switch {
	case errors.As(err, &syntax):
		why = fmt.Sprintf("not JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		why = "a field holds the wrong JSON type"
	}
	return fmt.Errorf("redisstore: %w: tenant %q: %s", ErrUndecodable, id, why)
}

// getEach GETs the key keyOf(name) of each of names through c in one
// pipeline (a cluster client splits it by node), and returns the commands,
// in the order of names. A missing key is a command whose error is
// redis.Nil; any other failure is returned.
func getEach(ctx context.Context, c redis.Cmdable, names []string, keyOf func(string) string) ([]*redis.StringCmd, error) {
	cmds := make([]*redis.StringCmd, len(names))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, name := range names {
			cmds[i] = p.Get(ctx, keyOf(name))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return cmds, nil
}

// staleClaim is a claim key that names a tenant whose record does not hold
// it: recorded tells whether the tenant has a record at all.
type staleClaim struct {
	key, id  string
	recorded bool
}

func (c staleClaim) err() error {
	whose := "which has no record"
	if c.recorded {
		whose = "whose record does not hold it"
	}
	return fmt.Errorf("redisstore: %w: %q names tenant %q, %s", ErrStaleClaim, c.key, c.id, whose)
}

// staleClaims finds the stale domain keys and issuer and audience claims:
// it SCANs every master for them, GETs each page of them on its master,
// and then the records of the tenants they name, in one pipeline each. A
// record that does not decode makes no claim stale: what it holds is
// unknown. The answer is in the order of the keys.
func (s *Store) staleClaims(ctx context.Context) ([]staleClaim, error) {
	var mu sync.Mutex
	var stale []staleClaim
	err := s.eachMaster(ctx, func(ctx context.Context, c redis.Cmdable) error {
		for _, pattern := range []string{keys.Domain("*"), keys.OIDCClaim("*")} {
			err := scanNode(ctx, c, pattern, store.DirectoryBatch, func(found []string) error {
				page, err := s.checkClaims(ctx, c, found)
				mu.Lock()
				defer mu.Unlock()
				stale = append(stale, page...)
				return err
			})
			if err != nil {
				return fmt.Errorf("find stale claims: %w", err)
			}
		}
		return nil
	})
	slices.SortFunc(stale, func(a, b staleClaim) int { return strings.Compare(a.key, b.key) })
	return stale, err
}

// checkClaims reads the claim keys ks through c, then the records of the
// tenants they name, and returns the claims that are stale. Each record is
// read after its claim, so that a create that writes its record after
// claiming is never taken for stale once the record is there. A key gone
// meanwhile is left out.
func (s *Store) checkClaims(ctx context.Context, c redis.Cmdable, ks []string) ([]staleClaim, error) {
	owners, err := getEach(ctx, c, ks, func(k string) string { return k })
	if err != nil {
		return nil, err
	}
	var claimKeys, ids []string
	for i, cmd := range owners {
		id, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %w", ks[i], err)
		}
		claimKeys, ids = append(claimKeys, ks[i]), append(ids, id)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	recs, err := getEach(ctx, s.rdb, ids, keys.Metadata)
	if err != nil {
		return nil, err
	}
	var stale []staleClaim
	for i, cmd := range recs {
		data, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			stale = append(stale, staleClaim{key: claimKeys[i], id: ids[i]})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", ids[i], err)
		}
		t, err := decodeTenant(ids[i], data)
		if err != nil {
			continue
		}
		if !slices.Contains(claims(t), claimKeys[i]) {
			stale = append(stale, staleClaim{key: claimKeys[i], id: ids[i], recorded: true})
		}
	}
	return stale, nil
}

// DefaultStaleClaimPause is the pause of [Tenants.ReleaseStaleClaims]
// between its two checks of a claim, when it is given none.
const DefaultStaleClaimPause = 5 * time.Second

// ReleaseStaleClaims deletes the stale claims [Tenants.Reindex] reports
// (a domain key or an issuer and audience claim naming a tenant whose
// record does not hold it, or a tenant without record), so that another
// tenant can claim the domain or the pair, and returns the keys it
// deleted, in order.
//
// A claim without a record is also what a Create in progress looks like
// between its claims and its record, and a claim the record does not hold
// what an Update in progress looks like between its new claim and its
// record: deleting such a claim would let two tenants hold one domain or
// pair. So each claim is checked twice, pause apart (0 is
// [DefaultStaleClaimPause]; negative is an error): each check reads the
// claim, then the record of the tenant it names. A claim is deleted only
// when it was stale at both checks and only while it still names the same
// tenant (the delete is a script in the claim's slot); the domain or pair
// then leaves the set replicas load. After the delete the record is read
// once more, and a claim it has come to hold is put back.
//
// What remains is a race no pause closes, since the claim and the record
// live in different slots and no command spans both: a Create or Update
// that claimed, then stalled for longer than the pause before writing its
// record, and whose record lands after the delete while another tenant
// claims the same domain or pair in between, is left with a record naming
// a domain or pair that the other tenant holds. Run it while no tenant is
// being created or changed, or with a pause longer than any write may
// stall; Reindex run after it reports what is left.
func (r *Tenants) ReleaseStaleClaims(ctx context.Context, pause time.Duration) ([]string, error) {
	s := r.s
	switch {
	case pause < 0:
		return nil, fmt.Errorf("redisstore: release stale claims: negative pause %v", pause)
	case pause == 0:
		pause = DefaultStaleClaimPause
	}
	first, err := s.staleClaims(ctx)
	if err != nil {
		return nil, fmt.Errorf("redisstore: release stale claims: %w", err)
	}
	if len(first) == 0 {
		return nil, nil
	}
	wait := time.NewTimer(pause)
	select {
	case <-ctx.Done():
		wait.Stop()
		return nil, fmt.Errorf("redisstore: release stale claims: %w", context.Cause(ctx))
	case <-wait.C:
	}
	var released []string
	for page := range slices.Chunk(first, store.DirectoryBatch) {
		ks := make([]string, len(page))
		named := make(map[string]string, len(page))
		for i, c := range page {
			ks[i], named[c.key] = c.key, c.id
		}
		again, err := s.checkClaims(ctx, s.rdb, ks)
		if err != nil {
			return released, fmt.Errorf("redisstore: release stale claims: %w", err)
		}
		for _, c := range again {
			if named[c.key] != c.id {
				continue // it names another tenant now
			}
			ok, err := s.releaseStale(ctx, c)
			if ok {
				released = append(released, c.key)
			}
			if err != nil {
				return released, fmt.Errorf("redisstore: release stale claims: %w", err)
			}
		}
	}
	return released, nil
}

// releaseStale deletes the stale claim c while it names c.id, takes its
// domain or pair off the set replicas load, and reads c.id's record again:
// if the record has come to hold the claim meanwhile, it claims it again.
// It reports whether the claim stays released.
func (s *Store) releaseStale(ctx context.Context, c staleClaim) (bool, error) {
	n, err := delIfValueScript.Run(ctx, s.rdb, []string{c.key}, c.id).Int64()
	if err != nil {
		return false, fmt.Errorf("delete %q: %w", c.key, err)
	}
	if n == 0 {
		return false, nil // it names another tenant now, or is gone
	}
	// The rest must run even when the caller gives up now.
	ctx, cancel := committed(ctx)
	defer cancel()
	host, isDomain := strings.CutPrefix(c.key, keys.Domain(""))
	pair := strings.TrimPrefix(c.key, keys.OIDCClaim(""))
	if isDomain {
		s.unlistDomain(ctx, host)
	} else {
		s.unlistPair(ctx, pair)
	}
	t, _, err := s.read(ctx, c.id)
	switch {
	case errors.Is(err, store.ErrTenantNotFound):
		return true, nil
	case err != nil:
		return true, fmt.Errorf("check %q after its release: %w", c.key, err)
	case !slices.Contains(claims(t), c.key):
		return true, nil
	}
	if isDomain {
		_, err = s.claimDomain(ctx, host, c.id, false)
	} else {
		_, err = s.claimPair(ctx, pair, c.id, pair)
	}
	if err != nil {
		return false, fmt.Errorf("tenant %q came to hold %q while it was released: %w", c.id, c.key, err)
	}
	return false, nil
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
