package oidcx

import (
	"container/list"
	"sync"
	"unsafe"
)

// entry is one tenant's verifier: its key set, built for its settings.
// Failed builds are not cached here; their back-off lives in [limits].
type entry struct {
	id       string
	settings settings
	verifier *keySet

	size int64 // estimated heap, as accounted in cache.bytes
	elem *list.Element
}

// entryOverhead estimates what an entry costs besides its strings and
// keys: the entry, its key set, the list element, the map slot, and a
// margin for what the allocator rounds up.
const entryOverhead = int64(unsafe.Sizeof(entry{})+unsafe.Sizeof(keySet{})+unsafe.Sizeof(list.Element{})) + 1024

// sizeOf estimates the heap of an entry whose key set holds keys.
func (e *entry) sizeOf(keys *keyList) int64 {
	s := e.settings
	n := entryOverhead + int64(len(e.id)+len(s.issuer)+len(s.audience)+len(s.jwksURI)+len(e.verifier.url))
	if keys != nil {
		n += keys.size
	}
	return n
}

// cache holds one entry per tenant, at most max of them and at most
// maxBytes of estimated heap, dropping the least recently used. Its lock
// is held only for map and list operations, never across a network call,
// so one tenant's slow provider cannot delay another tenant's lookups.
type cache struct {
	max      int
	maxBytes int64

	mu      sync.Mutex
	entries map[string]*entry
	lru     list.List // front: most recently used
	bytes   int64     // sum of the entries' sizes
	// epoch counts removals. A build that started before a removal does
	// not store its outcome, so that an Invalidate racing with a build for the
	// tenant's old settings wins; the callers of that build still get it.
	epoch uint64
}

func newCache(max int, maxBytes int64) *cache {
	return &cache{max: max, maxBytes: maxBytes, entries: make(map[string]*entry)}
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
// removed since epoch was read. The key set's later fetches resize it.
func (c *cache) put(e *entry, epoch uint64) {
	if e.verifier != nil {
		e.verifier.onStore = func(l *keyList) { c.resize(e, l) }
		e.size = e.sizeOf(e.verifier.keys.Load())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if old, ok := c.entries[e.id]; ok {
		c.removeLocked(old)
	}
	e.elem = c.lru.PushFront(e)
	c.entries[e.id] = e
	c.bytes += e.size
	c.shrinkLocked()
}

// resize accounts the new keys of e's key set, if e is still cached.
func (c *cache) resize(e *entry, l *keyList) {
	size := e.sizeOf(l)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[e.id] != e {
		return
	}
	c.bytes += size - e.size
	e.size = size
	c.shrinkLocked()
}

// shrinkLocked drops the least recently used entries until both bounds
// hold.
func (c *cache) shrinkLocked() {
	for c.lru.Len() > c.max || (c.bytes > c.maxBytes && c.lru.Len() > 0) {
		c.removeLocked(c.lru.Back().Value.(*entry))
	}
}

func (c *cache) removeLocked(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.id)
	c.bytes -= e.size
}

// remove drops the tenant's entry, if any.
func (c *cache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if e, ok := c.entries[id]; ok {
		c.removeLocked(e)
	}
}

// clear drops every entry.
func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.entries)
	c.lru.Init()
	c.bytes = 0
}

// len returns the number of cached tenants.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// bytesUsed returns the estimated heap of the cached entries.
func (c *cache) bytesUsed() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
