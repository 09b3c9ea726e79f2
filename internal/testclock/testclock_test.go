package testclock

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestClock(t *testing.T) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 123456789, time.UTC)
	c := New(start)
	assert.Equal(t, start, c.Now())
	assert.Equal(t, start.Add(time.Minute), c.Advance(time.Minute))
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { c.Advance(time.Second) })
	}
	wg.Wait()
	assert.Equal(t, start.Add(time.Minute+100*time.Second), c.Now())
}
