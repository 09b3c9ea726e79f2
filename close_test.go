package tenancy

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// gatedAudit holds every audit write until its gate is closed.
type gatedAudit struct {
	store.Audit
	gate chan struct{}
}

func (a gatedAudit) Append(ctx context.Context, id string, e store.AuditEvent, n int) (string, error) {
	<-a.gate
	return a.Audit.Append(ctx, id, e, n)
}

type gatedAuditBackend struct {
	store.Backend
	gate chan struct{}
}

func (b gatedAuditBackend) Audit() store.Audit { return gatedAudit{b.Backend.Audit(), b.gate} }

// A request refused for its authentication while the Service closes (a
// host whose server's Shutdown gave up on a long request, then Close)
// must not start a trail write that Close's wait for the writes under
// way is not ordered with: sync.WaitGroup panics on such an Add ("Add
// called concurrently with Wait", "WaitGroup is reused before previous
// Wait has returned"), in Close or in the request. Under the race
// detector the Add is reported every time; without it, the panic comes
// in one round of some thousands.
func TestCloseDuringRefusedAuthentication(t *testing.T) {
	mem := memstore.New(memstore.Config{}).Backend()
	_, err := mem.Tenants().Create(context.Background(), &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive})
	require.NoError(t, err)
	gate := make(chan struct{})
	s, err := New(Config{Store: gatedAuditBackend{mem, gate}, MultiTenant: true, Logger: quiet})
	require.NoError(t, err)

	s.AuthRefused("acme", "first") // its write waits at the gate
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(100 * time.Millisecond) // Close waits for that write now
	close(gate)
	// Once the write is in the trail, Close may return at any moment: a
	// refusal now is concurrent with the end of its wait.
	require.Eventually(t, func() bool {
		events, err := mem.Audit().Read(context.Background(), "acme", "", 10)
		return err == nil && len(events) == 1
	}, 5*time.Second, time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	s.AuthRefused("acme", "second")
	require.NoError(t, <-closed)
}
