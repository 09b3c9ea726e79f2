package audit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
)

// gated holds every write until its gate is closed.
type gated struct {
	store.Audit
	gate chan struct{}
}

func (g gated) Append(ctx context.Context, id string, e store.AuditEvent, n int) (string, error) {
	<-g.gate
	return g.Audit.Append(ctx, id, e, n)
}

// TestRefusalWhileClosing: a refusal given once Close waits for the
// writes under way (a request still served while a server shuts down)
// starts no write: it is counted as dropped, and Close's wait is never
// added to while it runs (which makes sync.WaitGroup panic).
func TestRefusalWhileClosing(t *testing.T) {
	gate := make(chan struct{})
	f := newFixture(t, Config{}, "acme")
	trail, err := New(Config{Store: gated{f.st.Audit(), gate}})
	require.NoError(t, err)

	trail.AuthRefused("acme", "first") // its write waits at the gate
	closed := make(chan struct{})
	go func() { trail.Close(); close(closed) }()
	require.Eventually(t, func() bool {
		trail.mu.Lock()
		defer trail.mu.Unlock()
		return trail.closed
	}, 5*time.Second, time.Millisecond)
	dropped := trail.dropped.Load()
	trail.AuthRefused("acme", "second")
	assert.Equal(t, dropped+1, trail.dropped.Load(), "the refusal is dropped")
	close(gate)
	<-closed
	events, err := f.st.Audit().Read(t.Context(), "acme", "", 10)
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, "first", events[0].Reason)
}
