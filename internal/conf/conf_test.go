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
