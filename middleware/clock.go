package middleware

import (
	"sync"
	"sync/atomic"
	"time"
)

// monoEpoch is the origin of the package's monotonic readings.
var monoEpoch = time.Now()

// monotime reads the monotonic clock, in nanoseconds since monoEpoch. It
// costs one clock read where time.Now costs two (wall and monotonic), and
// a step of the wall clock does not move it.
func monotime() int64 {
	return int64(time.Since(monoEpoch))
}

// coarseTick is how often the coarse clock moves while it is read.
const coarseTick = time.Millisecond

// coarseClock is monotime for the cache's hit path, read with an atomic
// load instead of a clock read (a clock read is about a quarter of a
// cache hit on a virtual machine). A timer moves it every coarseTick while
// it is being read and stops after a tick without a read, so an idle
// process holds no timer and no goroutine; the first read after that reads
// the clock and starts the timer again. Its reading is never ahead of
// monotime, and behind it by about a tick: by more only when the machine
// is so loaded that the timer runs late.
type coarseClock struct {
	now     atomic.Int64
	running atomic.Bool
	// read is set by the readers of a tick, and cleared by the tick.
	read atomic.Bool

	mu    sync.Mutex // serialises start and tick
	timer *time.Timer
}

// coarse is the clock every cache with the real clock shares.
var coarse coarseClock

// Now returns the clock's reading, in nanoseconds since monoEpoch.
func (c *coarseClock) Now() int64 {
	if !c.running.Load() {
		return c.start()
	}
	// Written only when not yet set, so that the readers of a tick do not
	// all write one cache line.
	if !c.read.Load() {
		c.read.Store(true)
	}
	return c.now.Load()
}

// start reads the clock and starts the timer, unless another reader did
// meanwhile.
func (c *coarseClock) start() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := monotime()
	c.now.Store(n)
	if !c.running.Load() {
		c.read.Store(true)
		c.running.Store(true)
		if c.timer == nil {
			c.timer = time.AfterFunc(coarseTick, c.tick)
		} else {
			c.timer.Reset(coarseTick)
		}
	}
	return n
}

// tick moves the clock, and stops it when nobody read it since the last
// tick.
func (c *coarseClock) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now.Store(monotime())
	if !c.read.Swap(false) {
		c.running.Store(false)
		return
	}
	c.timer.Reset(coarseTick)
}
