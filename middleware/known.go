package middleware

import (
	"crypto/sha256"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// snapshot is what a Directory holds: the tenant IDs, the inactive ones,
// the custom domains and the OIDC issuer and audience pairs with their
// tenants. The Directory's lock guards it.
type snapshot struct {
	max int
	ids nameSet
	// inactive holds the inactive tenants, exactly, up to max of them.
	inactive map[string]struct{}
	// domains holds each custom domain with its tenant.
	domains ownedSet
	// issuers holds each issuer and audience pair with its tenant. A pair
	// is held as its 32-byte digest (see pairDigest), whatever the length
	// of its issuer and audience.
	issuers ownedSet
	// unsettled holds the tenants named by a created or updated event and
	// not read since. Their custom domains and pairs are unknown until
	// their cache reads them, so while any is, a host or pair the snapshot
	// does not hold may be theirs, and is read rather than refused.
	unsettled map[string]struct{}
}

func newSnapshot(max int) *snapshot {
	return &snapshot{
		max:       max,
		ids:       nameSet{max: max, exact: map[string]struct{}{}},
		inactive:  map[string]struct{}{},
		domains:   newOwnedSet(max),
		issuers:   newOwnedSet(max),
		unsettled: map[string]struct{}{},
	}
}

// tenant answers Presence for a tenant ID. Both sets are consulted for
// every ID, so that an unknown and an inactive tenant cost the same
// lookups.
func (s *snapshot) tenant(id string) Presence {
	in, exact := s.ids.has(id)
	_, off := s.inactive[id]
	switch {
	case !in:
		return Absent
	case off:
		return Inactive
	case exact:
		return Exists
	}
	return MayExist
}

// domain answers Presence for a host. A host nobody registered and a host
// of an inactive tenant take the same three lookups.
func (s *snapshot) domain(host string) Presence { return s.owned(&s.domains, host) }

// issuer answers Presence for the key of an issuer cache (the issuer, a
// NUL byte and the audience), like domain for a host.
func (s *snapshot) issuer(key string) Presence { return s.owned(&s.issuers, pairDigest(key)) }

// owned answers Presence for a name of o: a name nobody has and a name of
// an inactive tenant take the same lookups. A name the snapshot does not
// hold (in a filter, one the filter does not hold) may still be the name
// of a tenant an event named and no read has told about yet: while any
// tenant is unsettled, it is read rather than refused.
func (s *snapshot) owned(o *ownedSet, name string) Presence {
	if o.filter != nil {
		if o.filter.has(name) || len(s.unsettled) > 0 {
			return MayExist
		}
		return Absent
	}
	id, ok := o.owner[name]
	in, _ := s.ids.has(id)
	_, off := s.inactive[id]
	switch {
	case ok && in && off:
		return Inactive
	case ok && in:
		return Exists
	case len(s.unsettled) > 0:
		return MayExist
	}
	return Absent
}

// pairDigest is how a snapshot holds the pair of an issuer cache's key:
// the SHA-256 of the key, the raw bytes of its store.IssuerPair.
func pairDigest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return string(sum[:])
}

// pairOf is the digest of t's issuer and audience, "" when t trusts no
// identity provider.
func pairOf(t *tenant.Tenant) string {
	if !t.OIDC.Configured() {
		return ""
	}
	return pairDigest(t.OIDC.Issuer + "\x00" + t.OIDC.Audience)
}

// apply follows one tenant event. Its status, domain and pair are not in
// the event: a created or updated tenant is taken off the inactive set (so
// that it is read, never wrongly refused) until the read its cache makes
// on the event tells them.
func (s *snapshot) apply(e store.Event) {
	switch e.Type {
	case store.EventCreated, store.EventUpdated:
		s.ids.add(e.TenantID)
		s.setInactive(e.TenantID, false)
		if len(s.unsettled) < s.max {
			s.unsettled[e.TenantID] = struct{}{}
		}
	case store.EventDeleted:
		s.forget(e.TenantID)
	}
}

// learn records what a store read of id found.
func (s *snapshot) learn(id string, t *tenant.Tenant) {
	delete(s.unsettled, id)
	if t == nil {
		s.forget(id)
		return
	}
	s.ids.add(id)
	s.setInactive(id, !t.Active())
	s.domains.set(id, t.Domain)
	s.issuers.set(id, pairOf(t))
}

// forget drops a tenant that no longer exists.
func (s *snapshot) forget(id string) {
	delete(s.unsettled, id)
	s.ids.remove(id)
	s.setInactive(id, false)
	s.domains.set(id, "")
	s.issuers.set(id, "")
}

func (s *snapshot) setInactive(id string, inactive bool) {
	if !inactive {
		delete(s.inactive, id)
	} else if len(s.inactive) < s.max {
		s.inactive[id] = struct{}{}
	}
}

// ownedSet holds names that each belong to one tenant (custom domains,
// issuer and audience pairs): exactly, with their tenants both ways, up to
// max of them, and above, in a filter alone (owner and nameOf are nil).
type ownedSet struct {
	max    int
	owner  map[string]string // name -> tenant
	nameOf map[string]string // tenant -> name
	filter *filter
}

func newOwnedSet(max int) ownedSet {
	return ownedSet{max: max, owner: map[string]string{}, nameOf: map[string]string{}}
}

// set makes name the name of id ("" for none), dropping the one it had. In
// a filter, a name can only be added.
func (o *ownedSet) set(id, name string) {
	if o.filter != nil {
		if name != "" && !o.filter.has(name) {
			o.filter.add(name)
		}
		return
	}
	if old, ok := o.nameOf[id]; ok && old != name {
		delete(o.nameOf, id)
		if o.owner[old] == id {
			delete(o.owner, old)
		}
	}
	if name == "" {
		return
	}
	if prev, ok := o.owner[name]; ok && prev != id {
		delete(o.nameOf, prev)
	}
	o.owner[name], o.nameOf[id] = id, name
	if len(o.owner) > o.max {
		o.filter = newFilter(2 * len(o.owner))
		for n := range o.owner {
			o.filter.add(n)
		}
		o.owner, o.nameOf = nil, nil
	}
}

// len is the number of names held.
func (o *ownedSet) len() int {
	if o.filter != nil {
		return o.filter.n
	}
	return len(o.owner)
}

// filterBytes is the memory of the filter, 0 while the names are exact.
func (o *ownedSet) filterBytes() int {
	if o.filter != nil {
		return o.filter.bytes()
	}
	return 0
}

// nameSet holds names exactly, up to max of them, and in a filter above.
type nameSet struct {
	max    int
	exact  map[string]struct{}
	filter *filter
}

// add puts name in the set.
func (n *nameSet) add(name string) {
	if n.filter != nil {
		if !n.filter.has(name) {
			n.filter.add(name)
		}
		return
	}
	n.exact[name] = struct{}{}
	if len(n.exact) > n.max {
		n.filter = newFilter(2 * len(n.exact))
		for k := range n.exact {
			n.filter.add(k)
		}
		n.exact = nil
	}
}

// remove drops name; a filter cannot, and keeps it until the next load.
func (n *nameSet) remove(name string) {
	if n.filter == nil {
		delete(n.exact, name)
	}
}

// has reports whether name is in the set, and whether that answer is
// exact (a filter may hold a name never added).
func (n *nameSet) has(name string) (in, exact bool) {
	if n.filter != nil {
		return n.filter.has(name), false
	}
	_, in = n.exact[name]
	return in, true
}

func (n *nameSet) len() int {
	if n.filter != nil {
		return n.filter.n
	}
	return len(n.exact)
}
