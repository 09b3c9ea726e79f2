// Package testclock is a clock that tests move by hand, for the Now and
// Clock fields of the configs and stores under test. A Clock is safe for
// concurrent use: the code under test reads it from its own goroutines.
package testclock

import (
	"sync/atomic"
	"time"
)

// Clock holds a time that only moves when told to.
type Clock struct{ ns atomic.Int64 }

// New returns a clock set to t. Times are kept in UTC.
func New(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	return time.Unix(0, c.ns.Add(int64(d))).UTC()
}
