package oidcx

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// Defaults of the verified-token cache; see [Config.TokenCacheEntries].
const (
	DefaultTokenCacheEntries = 10_000
	DefaultTokenCacheBytes   = 16 << 20
)

// tokenSum identifies a token in the cache: its SHA-256. The cache never
// holds a token itself, so that its memory holds no bearer credential.
type tokenSum [sha256.Size]byte

// sumOf returns the SHA-256 of token without copying it: the hash reads
// the bytes and keeps none of them.
func sumOf(token string) tokenSum {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// verified is a token verified for a tenant: its claims, the settings and
// keys it was verified with, and until when it may be served.
type verified struct {
	tenant   string
	sum      tokenSum
	claims   *Claims
	settings settings
	keys     *keyList  // the key set's keys the signature was checked with
	until    time.Time // the token's exp
	size     int64
	elem     *list.Element
}

// tokenCache remembers the tokens verified recently, per tenant, so that a
// client that sends the same token with every request (as MCP clients do)
// pays the signature check once. It is bounded in entries and bytes,
// dropping the least recently used; an entry is served only for the tenant
// and settings it was verified with, and never after the token's exp.
type tokenCache struct {
	max      int
	maxBytes int64

	mu      sync.Mutex
	tenants map[string]map[tokenSum]*verified
	lru     list.List // front: most recently used
	bytes   int64
}

func newTokenCache(max int, maxBytes int64) *tokenCache {
	return &tokenCache{max: max, maxBytes: maxBytes, tenants: make(map[string]map[tokenSum]*verified)}
}

// get returns the entry of the token sum for tenant id and settings s, if
// it is still within the token's lifetime at now.
func (c *tokenCache) get(id string, sum tokenSum, s settings, now time.Time) (*verified, bool) {
	if c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.tenants[id][sum]
	if !ok {
		return nil, false
	}
	if e.settings != s || !now.Before(e.until) {
		// Settings changed, or the token expired: it is never served
		// again, so make room now.
		c.removeLocked(e)
		return nil, false
	}
	c.lru.MoveToFront(e.elem)
	return e, true
}

// put remembers a verified token, replacing an earlier entry of it.
func (c *tokenCache) put(e *verified) {
	if c.max <= 0 {
		return
	}
	e.size = e.estimate()
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.tenants[e.tenant]
	if m == nil {
		m = make(map[tokenSum]*verified)
		c.tenants[e.tenant] = m
	} else if old, ok := m[e.sum]; ok {
		c.removeLocked(old)
		if c.tenants[e.tenant] == nil {
			m = make(map[tokenSum]*verified)
			c.tenants[e.tenant] = m
		}
	}
	e.elem = c.lru.PushFront(e)
	m[e.sum] = e
	c.bytes += e.size
	for c.lru.Len() > c.max || (c.bytes > c.maxBytes && c.lru.Len() > 0) {
		c.removeLocked(c.lru.Back().Value.(*verified))
	}
}

// removeTenant drops every token of tenant id.
func (c *tokenCache) removeTenant(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.tenants[id] {
		c.lru.Remove(e.elem)
		c.bytes -= e.size
	}
	delete(c.tenants, id)
}

// clear drops every token.
func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.tenants)
	c.lru.Init()
	c.bytes = 0
}

func (c *tokenCache) removeLocked(e *verified) {
	c.lru.Remove(e.elem)
	c.bytes -= e.size
	m := c.tenants[e.tenant]
	delete(m, e.sum)
	if len(m) == 0 {
		delete(c.tenants, e.tenant)
	}
}

// len returns the number of tokens held.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// estimate returns the heap an entry holds: the entry and its claims,
// their strings and the payload, with room for map and list.
func (e *verified) estimate() int64 {
	c := e.claims
	n := int64(unsafe.Sizeof(verified{})+unsafe.Sizeof(Claims{})+unsafe.Sizeof(list.Element{})) + 128
	n += int64(len(e.tenant) + len(c.Issuer) + len(c.Subject) + len(c.raw))
	for _, a := range c.Audience {
		n += 16 + int64(len(a))
	}
	for _, s := range c.Scopes {
		n += 16 + int64(len(s))
	}
	return n
}
