package mcpsession

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// TestCloseAgainWaitsForTheFirst: a host that calls Close from its HTTP
// server's shutdown hook and again on its way out, before closing the
// store, must not have the second call return while the first is still
// ending sessions: the places left in the store would count against the
// tenant's limit for their whole lifetime.
func TestCloseAgainWaitsForTheFirst(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Config{})
	acme := &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive}
	_, err := st.Tenants().Create(ctx, acme)
	require.NoError(t, err)
	release, ending := make(chan struct{}), make(chan struct{}, 1)
	g, err := New(http.NotFoundHandler(), Config{Sessions: st.Sessions(), Tenants: st.Tenants(), PerCaller: -1,
		Logger: slog.New(slog.DiscardHandler),
		Ender: EnderFunc(func(string) {
			select {
			case ending <- struct{}{}:
			default:
			}
			<-release
		})})
	require.NoError(t, err)
	require.NoError(t, g.admit(ctx, acme, store.Owner{Issuer: "https://idp.example", Subject: "alice"}, "s1"))

	first := make(chan error, 1)
	go func() { first <- g.Close(ctx) }()
	<-ending // the first Close is ending the session
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, g.Close(short), context.DeadlineExceeded, "a second Close waits for the first")
	second := make(chan error, 1)
	go func() { second <- g.Close(ctx) }()
	close(release)
	require.NoError(t, <-first)
	require.NoError(t, <-second)
	_, err = st.Sessions().Get(ctx, "acme", "s1")
	assert.ErrorIs(t, err, store.ErrNotFound, "the session's place is freed")
}
