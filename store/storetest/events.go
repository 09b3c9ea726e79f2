package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventWait bounds the wait for one event; a subscription that needs to
// reconnect may take a few seconds, more on a loaded CI machine.
const eventWait = 20 * time.Second

// subscribe starts b.Events.Subscribe and returns the channel of its events
// and a function that stops it and returns Subscribe's result.
func subscribe(t *testing.T, b *Backend) (<-chan store.Event, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	events := make(chan store.Event, 100)
	done := make(chan error, 1)
	go func() { done <- b.Events.Subscribe(ctx, func(e store.Event) { events <- e }) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(eventWait):
			t.Fatal("Subscribe did not return after its context was canceled")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return events, stop
}

// next returns the next event, failing the test after eventWait.
func next(t *testing.T, events <-chan store.Event) store.Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(eventWait):
		t.Fatal("no event")
		return store.Event{}
	}
}

func testEvents(t *testing.T, b *Backend) {
	ctx := t.Context()
	events, stop := subscribe(t, b)
	require.Equal(t, store.Event{Type: store.EventReset}, next(t, events), "a subscription starts with a reset")

	acme := create(t, b, "acme", "")
	_, err := b.Tenants.Create(ctx, sample("acme", "")) // refused: no event
	require.Error(t, err)
	acme.Name = "ACME"
	_, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	_, err = b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)

	assert.Equal(t, store.Event{Type: store.EventCreated, TenantID: "acme"}, next(t, events))
	assert.Equal(t, store.Event{Type: store.EventUpdated, TenantID: "acme"}, next(t, events))
	assert.Equal(t, store.Event{Type: store.EventDeleted, TenantID: "acme"}, next(t, events))

	require.ErrorIs(t, stop(), context.Canceled)
	select {
	case e := <-events:
		t.Errorf("unexpected event %+v", e)
	default:
	}
}

func testEventsInterrupted(t *testing.T, b *Backend) {
	if b.Interrupt == nil {
		t.Skip("the backend cannot break its connections")
	}
	events, stop := subscribe(t, b)
	require.Equal(t, store.EventReset, next(t, events).Type)
	b.Interrupt()
	require.Equal(t, store.Event{Type: store.EventReset}, next(t, events),
		"events may have been missed while the subscription was broken: reset again")
	create(t, b, "acme", "")
	assert.Equal(t, store.Event{Type: store.EventCreated, TenantID: "acme"}, next(t, events))
	require.ErrorIs(t, stop(), context.Canceled)
}

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
