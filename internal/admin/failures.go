package admin

import (
	"net/netip"
	"time"

	"github.com/seedmcp/tenancy/internal/window"
)

// failures counts failed keys per address in fixed windows: the first
// failure opens a window, and an address with max failures in its window is
// locked out until the window ends. Memory is bounded by limit entries:
// when they are all live, a new address drops the oldest window, which an
// attacker can force only from more than limit addresses at once; the
// alternative, refusing to track new addresses, would let the same
// attacker guess without any limit. An IPv6 address counts by its /64
// (see [counted]).
type failures struct {
	max     int
	windows *window.Counter
}

func newFailures(max int, length time.Duration, limit int) *failures {
	return &failures{max: max, windows: window.New(length, limit)}
}

// locked returns how long addr stays locked out, or 0.
func (f *failures) locked(addr string, now time.Time) time.Duration {
	return f.windows.Wait(counted(addr), f.max, now)
}

// fail records a failed key from addr.
func (f *failures) fail(addr string, now time.Time) {
	f.windows.Add(counted(addr), now)
}

// ipv6Prefix is the part of an IPv6 address failures count against: a
// /64 is what one host or one network is given (RFC 6177), and counted by
// the whole address such a host would have 2^64 fresh allowances of wrong
// keys, one for each guess.
const ipv6Prefix = 64

// counted returns what the failures of addr count against: an IPv4
// address itself (also when written as IPv6, ::ffff:a.b.c.d), the /64 of
// an IPv6 address (without its zone), and anything that is not an IP
// address (a ClientAddr of the host's own) as it is.
func counted(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(ipv6Prefix)
	return p.String()
}
