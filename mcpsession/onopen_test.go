package mcpsession

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOnOpenCountsEverySessionOpened: the hook hears of each session the
// guard admits, with its tenant, and of no refused one.
func TestOnOpenCountsEverySessionOpened(t *testing.T) {
	var mu sync.Mutex
	opened := map[string]int{}
	h := newHarness(t, func(c *Config) {
		c.OnOpen = func(id string) {
			mu.Lock()
			opened[id]++
			mu.Unlock()
		}
	})
	h.open("acme", alice)
	h.open("acme", carol)
	h.open("globex", bob)
	h.open("acme", carol)
	// acme is at maxSessions (3): refused, not counted.
	assert.Equal(t, http.StatusForbidden, h.do(http.MethodPost, "acme", alice, "", initBody).Code)
	// A request within a session opens nothing.
	id := h.open("globex", bob)
	h.do(http.MethodPost, "globex", bob, id, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"acme": 3, "globex": 2}, opened)
}
