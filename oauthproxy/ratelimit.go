package oauthproxy

import (
	"net/netip"
	"time"

	"github.com/seedmcp/tenancy/internal/window"
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
	max     int // -1: no limit
	windows *window.Counter
}

func newRegistrations(max int, length time.Duration, limit int) *registrations {
	return &registrations{max: max, windows: window.New(length, limit)}
}

// take counts one registration of key and returns 0 when it may go
// ahead, or how long until it may.
func (l *registrations) take(key string, now time.Time) time.Duration {
	if l.max < 0 {
		return 0
	}
	return l.windows.Take(key, l.max, now)
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
