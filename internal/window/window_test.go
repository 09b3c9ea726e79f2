package window

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCounter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(time.Minute, 3)

	// Take counts up to max, then says how long until the window ends.
	assert.Zero(t, c.Take("a", 2, t0))
	assert.Zero(t, c.Take("a", 2, t0.Add(time.Second)))
	assert.Equal(t, 59*time.Second, c.Take("a", 2, t0.Add(time.Second)))
	assert.Equal(t, 59*time.Second, c.Wait("a", 2, t0.Add(time.Second)))
	assert.Zero(t, c.Wait("a", 3, t0.Add(time.Second)), "below another max")
	assert.Zero(t, c.Take("a", 2, t0.Add(time.Minute)), "a new window")

	// Add counts without a max; Wait reads it and drops an expired window.
	for range 3 {
		c.Add("b", t0)
	}
	assert.Equal(t, 30*time.Second, c.Wait("b", 3, t0.Add(30*time.Second)))
	assert.Equal(t, 2, c.Len())
	assert.Zero(t, c.Wait("b", 3, t0.Add(time.Minute)))
	assert.Equal(t, 1, c.Len(), "the expired window is dropped")
	assert.Zero(t, c.Wait("nobody", 0, t0))
}

func TestCounterIsBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(time.Minute, 2)
	for range 3 {
		c.Add("old", t0)
	}
	for range 3 {
		c.Add("live", t0.Add(30*time.Second))
	}
	// Full: the new key drops the expired window first.
	c.Add("new", t0.Add(61*time.Second))
	assert.Equal(t, 2, c.Len())
	assert.Positive(t, c.Wait("live", 3, t0.Add(61*time.Second)), "the live window survives")
	// Full of live windows: the oldest goes.
	c.Add("newer", t0.Add(62*time.Second))
	assert.Equal(t, 2, c.Len())
	assert.Zero(t, c.Wait("live", 3, t0.Add(62*time.Second)), "the oldest live window was dropped")

	for i := range 1000 {
		c.Add(string(rune('a'+i%26))+string(rune(i)), t0.Add(70*time.Second))
	}
	assert.LessOrEqual(t, c.Len(), 2)
}

// TestCounterEmptyKey checks that the empty key (an address a host could
// not read) is a key like any other when the counter is full: the oldest
// window goes, whatever its key, and no more than limit are kept.
func TestCounterEmptyKey(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(time.Minute, 2)
	c.Add("", t0)
	c.Add("b", t0.Add(time.Second))
	c.Add("c", t0.Add(2*time.Second))
	assert.Equal(t, 2, c.Len())
	assert.Zero(t, c.Wait("", 1, t0.Add(2*time.Second)), "the oldest window, of the empty key, was dropped")
	assert.Equal(t, time.Second+58*time.Second, c.Wait("b", 1, t0.Add(2*time.Second)), "a younger one stays")

	c = New(time.Minute, 1)
	c.Add("", t0)
	c.Add("x", t0.Add(time.Second))
	assert.Equal(t, 1, c.Len())
}

// TestCounterClockBack checks that a clock set back (a wall clock without
// Go's monotonic reading, stepped back by an hour) does not stretch a
// window: it ends at most one length after the time it is read at.
func TestCounterClockBack(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	back := t0.Add(-time.Hour)
	c := New(time.Minute, 10)
	c.Add("a", t0)
	assert.Equal(t, time.Minute, c.Wait("a", 1, back))
	assert.Zero(t, c.Wait("a", 1, back.Add(time.Minute)), "over one length after the step")

	assert.Zero(t, c.Take("b", 1, t0))
	assert.Equal(t, time.Minute, c.Take("b", 1, back))
	assert.Zero(t, c.Take("b", 1, back.Add(time.Minute)))
}
