package admin

import (
	"sync"
	"time"
)

// failures counts failed keys per address in fixed windows: the first
// failure opens a window, and an address with max failures in its window is
// locked out until the window ends. Memory is bounded by limit entries.
type failures struct {
	max    int
	window time.Duration
	limit  int

	mu      sync.Mutex
	entries map[string]failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

func newFailures(max int, window time.Duration, limit int) *failures {
	return &failures{max: max, window: window, limit: limit, entries: make(map[string]failureWindow)}
}

// locked returns how long addr stays locked out, or 0.
func (f *failures) locked(addr string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[addr]
	if !ok {
		return 0
	}
	end := e.start.Add(f.window)
	if !now.Before(end) {
		delete(f.entries, addr)
		return 0
	}
	if e.n < f.max {
		return 0
	}
	return end.Sub(now)
}

// fail records a failed key from addr.
func (f *failures) fail(addr string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[addr]
	if ok && now.Before(e.start.Add(f.window)) {
		e.n++
		f.entries[addr] = e
		return
	}
	if !ok && len(f.entries) >= f.limit {
		f.makeRoom(now)
	}
	f.entries[addr] = failureWindow{start: now, n: 1}
}

// makeRoom drops every expired window and, if the tracker is still full,
// the oldest one. Dropping a live window forgets that address's failures,
// which an attacker can only force from more than limit addresses at
// once; the alternative, refusing to track new addresses, would let the
// same attacker guess without any limit. The scan is linear, but it only
// runs when the tracker is full.
func (f *failures) makeRoom(now time.Time) {
	var oldest string
	var oldestStart time.Time
	for addr, e := range f.entries {
		if !now.Before(e.start.Add(f.window)) {
			delete(f.entries, addr)
			continue
		}
		if oldest == "" || e.start.Before(oldestStart) {
			oldest, oldestStart = addr, e.start
		}
	}
	if len(f.entries) >= f.limit && oldest != "" {
		delete(f.entries, oldest)
	}
}

// len returns the number of tracked addresses.
func (f *failures) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries)
}
