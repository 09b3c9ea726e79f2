package oauthproxy

import (
	"net/netip"
	"sync"
	"time"
)

// maxTrackedAddrs bounds the addresses the registration limit tracks.
const maxTrackedAddrs = 10000

// registrations counts registrations per tenant and client address in
// fixed windows: the first registration opens a window, and a key with max
// registrations in its window waits until the window ends. Memory is
// bounded by limit keys; when they are all live the oldest window is
// dropped, which an attacker can force only from more than limit
// addresses at once (and each tenant's maxClients still holds).
type registrations struct {
	max    int // -1: no limit
	window time.Duration
	limit  int

	mu      sync.Mutex
	windows map[string]regWindow
}

type regWindow struct {
	start time.Time
	n     int
}

func newRegistrations(max int, window time.Duration, limit int) *registrations {
	return &registrations{max: max, window: window, limit: limit, windows: map[string]regWindow{}}
}

// take counts one registration of key and returns 0 when it may go
// ahead, or how long until it may.
func (l *registrations) take(key string, now time.Time) time.Duration {
	if l.max < 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.windows[key]
	if ok && now.Before(w.start.Add(l.window)) {
		if w.n >= l.max {
			return w.start.Add(l.window).Sub(now)
		}
		w.n++
		l.windows[key] = w
		return 0
	}
	if !ok && len(l.windows) >= l.limit {
		l.makeRoom(now)
	}
	l.windows[key] = regWindow{start: now, n: 1}
	return 0
}

// makeRoom drops the expired windows and, if none was, the oldest. The
// caller holds l.mu.
func (l *registrations) makeRoom(now time.Time) {
	var oldest string
	var oldestStart time.Time
	for k, w := range l.windows {
		if !now.Before(w.start.Add(l.window)) {
			delete(l.windows, k)
			continue
		}
		if oldest == "" || w.start.Before(oldestStart) {
			oldest, oldestStart = k, w.start
		}
	}
	if len(l.windows) >= l.limit && oldest != "" {
		delete(l.windows, oldest)
	}
}

// addrKey returns the key a client address is counted under: an IPv4
// address itself, an IPv6 address's /64 (one subscriber's usual share), or
// the string as given when it is not an IP address.
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
