package admin

import (
	"time"

	"github.com/seedmcp/tenancy/internal/window"
)

// failures counts failed keys per address in fixed windows: the first
// failure opens a window, and an address with max failures in its window is
// locked out until the window ends. Memory is bounded by limit entries:
// when they are all live, a new address drops the oldest window, which an
// attacker can force only from more than limit addresses at once; the
// alternative, refusing to track new addresses, would let the same
// attacker guess without any limit.
type failures struct {
	max     int
	windows *window.Counter
}

func newFailures(max int, length time.Duration, limit int) *failures {
	return &failures{max: max, windows: window.New(length, limit)}
}

// locked returns how long addr stays locked out, or 0.
func (f *failures) locked(addr string, now time.Time) time.Duration {
	return f.windows.Wait(addr, f.max, now)
}

// fail records a failed key from addr.
func (f *failures) fail(addr string, now time.Time) {
	f.windows.Add(addr, now)
}
