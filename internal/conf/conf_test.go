package conf

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDefault(t *testing.T) {
	for _, c := range []struct {
		set, want int
	}{
		{-1, 7},
		{0, 7},
		{1, 1},
		{9, 9},
	} {
		v := c.set
		Default(&v, 7)
		assert.Equal(t, c.want, v, "set %d", c.set)
	}

	d := -time.Second
	Default(&d, time.Minute)
	assert.Equal(t, time.Minute, d)
	d = 0
	Default(&d, time.Minute)
	assert.Equal(t, time.Minute, d)
	d = time.Millisecond
	Default(&d, time.Minute)
	assert.Equal(t, time.Millisecond, d)

	f := -0.5
	Default(&f, 2.5)
	assert.Equal(t, 2.5, f)
	f = 0.25
	Default(&f, 2.5)
	assert.Equal(t, 0.25, f)
}

func TestClock(t *testing.T) {
	var now func() time.Time
	Clock(&now)
	if assert.NotNil(t, now) {
		assert.WithinDuration(t, time.Now(), now(), time.Minute)
	}

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now = func() time.Time { return t0 }
	Clock(&now)
	assert.Equal(t, t0, now())
}

func TestNonNegative(t *testing.T) {
	for _, c := range []struct {
		set, want time.Duration
		err       bool
	}{
		{-time.Nanosecond, -time.Nanosecond, true},
		{-time.Hour, -time.Hour, true},
		{0, time.Minute, false},
		{time.Nanosecond, time.Nanosecond, false},
		{time.Hour, time.Hour, false},
	} {
		d := c.set
		err := NonNegative("pkg: Config.Timeout", &d, time.Minute)
		if c.err {
			assert.EqualError(t, err, "pkg: Config.Timeout must not be negative", "set %v", c.set)
		} else {
			assert.NoError(t, err, "set %v", c.set)
		}
		assert.Equal(t, c.want, d, "set %v", c.set)
	}
}

func TestDurations(t *testing.T) {
	a, b, c := time.Duration(0), 2*time.Second, time.Duration(0)
	ds := []Duration{
		{Name: "A", Value: &a, Default: time.Second},
		{Name: "B", Value: &b, Default: time.Hour},
		{Name: "C", Value: &c, Default: time.Minute},
	}
	assert.NoError(t, Durations("pkg: Config.", ds))
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, time.Minute}, []time.Duration{a, b, c})

	// The first negative one is named, in order.
	a, b, c = 0, -time.Second, -time.Minute
	assert.EqualError(t, Durations("pkg: Config.", ds), "pkg: Config.B must not be negative")
	assert.Equal(t, time.Second, a, "the ones before it took their defaults")

	assert.NoError(t, Durations("pkg: Config.", nil))
}
