package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
)

// testMark: a mark comes back to a subscriber after the events published
// before it, and an invalid mark is refused. Skipped when the events are
// not a store.Marker.
func testMark(t *testing.T, b *Backend) {
	m := optional[store.Marker](t, b.Events, "Events")
	ctx := t.Context()
	events, _ := subscribe(t, b)
	require.Equal(t, store.Event{Type: store.EventReset}, next(t, events))
	create(t, b, "acme", "")
	create(t, b, "beta", "")
	require.NoError(t, m.Mark(ctx, "mark-1"))
	assert.Equal(t, store.Event{Type: store.EventCreated, TenantID: "acme"}, next(t, events))
	assert.Equal(t, store.Event{Type: store.EventCreated, TenantID: "beta"}, next(t, events))
	assert.Equal(t, store.Event{Type: store.EventSync, Mark: "mark-1"}, next(t, events), "the mark follows the events before it")

	for _, bad := range []string{"", "a b", "tenant:{x}", string(make([]byte, store.MaxKeyLength+1))} {
		assert.ErrorIs(t, m.Mark(ctx, bad), store.ErrInvalidKey, "%q", bad)
	}
}
