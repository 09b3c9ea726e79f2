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
	// domains maps each custom domain to its tenant and domainOf the
	// other way, while there are at most max; above, domainFilter holds
	// the domains alone and both maps are nil.
	domains      map[string]string
	domainOf     map[string]string
	domainFilter *filter
	// issuers maps each issuer and audience pair to its tenant and
	// issuerOf the other way, like domains and domainOf, with issuerFilter
	// above max. A pair is held as its 32-byte digest (see pairDigest),
	// whatever the length of its issuer and audience.
	issuers      map[string]string
	issuerOf     map[string]string
	issuerFilter *filter
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
		domains:   map[string]string{},
		domainOf:  map[string]string{},
		issuers:   map[string]string{},
		issuerOf:  map[string]string{},
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
func (s *snapshot) domain(host string) Presence {
	if s.domainFilter != nil {
		// A host the filter does not hold may still be the domain of a
		// tenant an event named and no read has told about yet.
		if s.domainFilter.has(host) || len(s.unsettled) > 0 {
			return MayExist
		}
		return Absent
	}
	id, ok := s.domains[host]
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

// issuer answers Presence for the key of an issuer cache (the issuer, a
// NUL byte and the audience), like domain for a host: a pair nobody
// trusts and a pair of an inactive tenant take the same lookups. In a
// filter, a pair it does not hold is absent unless a tenant is unsettled.
func (s *snapshot) issuer(key string) Presence {
	pair := pairDigest(key)
	if s.issuerFilter != nil {
		if s.issuerFilter.has(pair) || len(s.unsettled) > 0 {
			return MayExist
		}
		return Absent
	}
	id, ok := s.issuers[pair]
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
	s.setDomain(id, t.Domain)
	s.setIssuer(id, pairOf(t))
}

// forget drops a tenant that no longer exists.
func (s *snapshot) forget(id string) {
	delete(s.unsettled, id)
	s.ids.remove(id)
	s.setInactive(id, false)
	s.setDomain(id, "")
	s.setIssuer(id, "")
}

func (s *snapshot) setInactive(id string, inactive bool) {
	if !inactive {
		delete(s.inactive, id)
	} else if len(s.inactive) < s.max {
		s.inactive[id] = struct{}{}
	}
}

// setDomain makes host the custom domain of id ("" for none), dropping the
// one it had. In a filter, a domain can only be added.
func (s *snapshot) setDomain(id, host string) {
	if s.domainFilter != nil {
		if host != "" && !s.domainFilter.has(host) {
			s.domainFilter.add(host)
		}
		return
	}
	if old, ok := s.domainOf[id]; ok && old != host {
		delete(s.domainOf, id)
		if s.domains[old] == id {
			delete(s.domains, old)
		}
	}
	if host == "" {
		return
	}
	if prev, ok := s.domains[host]; ok && prev != id {
		delete(s.domainOf, prev)
	}
	s.domains[host], s.domainOf[id] = id, host
	if len(s.domains) > s.max {
		s.domainFilter = newFilter(2 * len(s.domains))
		for h := range s.domains {
			s.domainFilter.add(h)
		}
		s.domains, s.domainOf = nil, nil
	}
}

// setIssuer makes pair (a digest, "" for none) the issuer and audience of
// id, dropping the one it had, like setDomain.
func (s *snapshot) setIssuer(id, pair string) {
	if s.issuerFilter != nil {
		if pair != "" && !s.issuerFilter.has(pair) {
			s.issuerFilter.add(pair)
		}
		return
	}
	if old, ok := s.issuerOf[id]; ok && old != pair {
		delete(s.issuerOf, id)
		if s.issuers[old] == id {
			delete(s.issuers, old)
		}
	}
	if pair == "" {
		return
	}
	if prev, ok := s.issuers[pair]; ok && prev != id {
		delete(s.issuerOf, prev)
	}
	s.issuers[pair], s.issuerOf[id] = id, pair
	if len(s.issuers) > s.max {
		s.issuerFilter = newFilter(2 * len(s.issuers))
		for p := range s.issuers {
			s.issuerFilter.add(p)
		}
		s.issuers, s.issuerOf = nil, nil
	}
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
