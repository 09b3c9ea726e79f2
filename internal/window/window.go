// Package window counts events per key in fixed windows, with memory
// bounded by a number of keys. It is the rule of the module's per-address
// limits (the admin API's failed keys, the OAuth registrations), written
// once.
package window

import (
	"sync"
	"time"
)

// Counter counts events per key in fixed windows of one length: the first
// event of a key opens its window, and its count starts again once the
// window is over. It tracks at most limit keys: when they are all live,
// a new key drops the oldest window, which an attacker can force only from
// more than limit keys at once; the alternative, refusing to track new
// keys, would let the same attacker go on without any limit. A window
// never ends more than one length after the time it is read at, also
// when the clock was set back. It is safe for concurrent use.
type Counter struct {
	length time.Duration
	limit  int

	mu sync.Mutex
	m  map[string]span
}

type span struct {
	start time.Time
	n     int
}

// New returns a Counter of windows of the given length for at most limit
// keys.
func New(length time.Duration, limit int) *Counter {
	return &Counter{length: length, limit: limit, m: make(map[string]span)}
}

// Wait returns how long until key's window ends when it already holds max
// events, and 0 otherwise.
func (c *Counter) Wait(key string, max int, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.lookup(key, now)
	if !ok {
		return 0
	}
	end := s.start.Add(c.length)
	if !now.Before(end) {
		delete(c.m, key)
		return 0
	}
	if s.n < max {
		return 0
	}
	return end.Sub(now)
}

// Add counts one event of key at now.
func (c *Counter) Add(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(key, now)
}

// Take counts one event of key unless its window already holds max, and
// returns 0 when it counted it, or how long until the window ends.
func (c *Counter) Take(key string, max int, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.lookup(key, now); ok && now.Before(s.start.Add(c.length)) && s.n >= max {
		return s.start.Add(c.length).Sub(now)
	}
	c.add(key, now)
	return 0
}

// Len returns the number of keys tracked.
func (c *Counter) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// add counts one event of key; the caller holds c.mu.
func (c *Counter) add(key string, now time.Time) {
	s, ok := c.lookup(key, now)
	if ok && now.Before(s.start.Add(c.length)) {
		s.n++
		c.m[key] = s
		return
	}
	if !ok && len(c.m) >= c.limit {
		c.makeRoom(now)
	}
	c.m[key] = span{start: now, n: 1}
}

// lookup returns key's window. One that starts after now (a clock set
// back) is moved to start at now, keeping its count, so that no window
// ends more than one length after now. The caller holds c.mu.
func (c *Counter) lookup(key string, now time.Time) (span, bool) {
	s, ok := c.m[key]
	if ok && now.Before(s.start) {
		s.start = now
		c.m[key] = s
	}
	return s, ok
}

// makeRoom drops every expired window and, if the counter is still full,
// the oldest one. The scan is linear, but it only runs when the counter is
// full. The caller holds c.mu.
func (c *Counter) makeRoom(now time.Time) {
	var oldest string // found says whether it is set: "" is a key too
	var oldestStart time.Time
	found := false
	for k, s := range c.m {
		if !now.Before(s.start.Add(c.length)) {
			delete(c.m, k)
			continue
		}
		if !found || s.start.Before(oldestStart) {
			oldest, oldestStart, found = k, s.start, true
		}
	}
	if len(c.m) >= c.limit && found {
		delete(c.m, oldest)
	}
}
