package oidcx

import (
	"container/list"
	"sync"
)

// entry is one tenant's verifier: its key set, built for its settings.
// Failed builds are not cached here; their back-off lives in [limits].
type entry struct {
	id       string
	settings settings
	verifier *keySet

	elem *list.Element
}

// cache holds one entry per tenant, at most max of them, dropping the least
// recently used. Its lock is held only for map and list operations, never
// across a network call, so one tenant's slow provider cannot delay another
// tenant's lookups.
type cache struct {
	max int

	mu      sync.Mutex
	entries map[string]*entry
	lru     list.List // front: most recently used
	// epoch counts removals. A build that started before a removal does
	// not store its outcome, so that an Evict racing with a build for the
	// tenant's old settings wins; the callers of that build still get it.
	epoch uint64
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[string]*entry)}
}

// get returns the tenant's entry when it was built for settings s.
func (c *cache) get(id string, s settings) (*entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || e.settings != s {
		return nil, false
	}
	c.lru.MoveToFront(e.elem)
	return e, true
}

func (c *cache) epochNow() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// put stores e, replacing the tenant's previous entry, unless an entry was
// removed since epoch was read.
func (c *cache) put(e *entry, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if old, ok := c.entries[e.id]; ok {
		c.lru.Remove(old.elem)
	}
	e.elem = c.lru.PushFront(e)
	c.entries[e.id] = e
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*entry).id)
	}
}

// remove drops the tenant's entry, if any.
func (c *cache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if e, ok := c.entries[id]; ok {
		c.lru.Remove(e.elem)
		delete(c.entries, id)
	}
}

// clear drops every entry.
func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.entries)
	c.lru.Init()
}

// len returns the number of cached tenants.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
