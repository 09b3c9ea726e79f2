package middleware

import (
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// snapshot is what a Directory holds: the tenant IDs, the inactive ones,
// and the custom domains with their tenants. The Directory's lock guards
// it.
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
	// unsettled holds the tenants named by a created or updated event and
	// not read since. Their custom domains are unknown until their cache
	// reads them, so while any is, a host the snapshot does not hold may
	// be theirs, and is read rather than refused.
	unsettled map[string]struct{}
}

func newSnapshot(max int) *snapshot {
	return &snapshot{
		max:       max,
		ids:       nameSet{max: max, exact: map[string]struct{}{}},
		inactive:  map[string]struct{}{},
		domains:   map[string]string{},
		domainOf:  map[string]string{},
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
		if s.domainFilter.has(host) {
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

// apply follows one tenant event. Its status and domain are not in the
// event: a created or updated tenant is taken off the inactive set (so
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
}

// forget drops a tenant that no longer exists.
func (s *snapshot) forget(id string) {
	delete(s.unsettled, id)
	s.ids.remove(id)
	s.setInactive(id, false)
	s.setDomain(id, "")
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
