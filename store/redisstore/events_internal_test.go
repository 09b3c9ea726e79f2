package redisstore

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blackHole relays TCP connections to a server until it is switched on;
// then it drops everything either way while keeping the connections open,
// as a cut network or a lost machine does: nothing arrives and nothing
// reports an error.
type blackHole struct {
	l      net.Listener
	target string
	on     atomic.Bool
	wg     sync.WaitGroup
	// accepted counts the connections made through it, and pongs the
	// answers to a ping it passed to a client.
	accepted, pongs atomic.Int64
}

func newBlackHole(t *testing.T, target string) *blackHole {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &blackHole{l: l, target: target}
	var conns sync.Map
	b.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			b.accepted.Add(1)
			conns.Store(c, s)
			b.wg.Go(func() { b.relay(s, c) })
			b.wg.Go(func() { b.relay(c, s) })
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		conns.Range(func(c, s any) bool {
			_ = c.(net.Conn).Close()
			_ = s.(net.Conn).Close()
			return true
		})
		b.wg.Wait()
	})
	return b
}

func (b *blackHole) addr() string { return b.l.Addr().String() }

// relay copies from src to dst, dropping what it reads while on.
func (b *blackHole) relay(dst, src net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 && !b.on.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			b.pongs.Add(int64(bytes.Count(bytes.ToLower(buf[:n]), []byte("pong"))))
		}
		if err != nil {
			if err != io.EOF {
				_ = dst.Close()
			}
			return
		}
	}
}

// TestSubscriptionThatStopsAnswering: a subscription whose connection
// stays open but carries nothing any more (its node lost, the network
// cut) is found out by an unanswered ping and made again once the node
// answers, with a reset for the events missed meanwhile; a quiet but
// healthy one is kept.
func TestSubscriptionThatStopsAnswering(t *testing.T) {
	quietPing, pongWait = 50*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { quietPing, pongWait = time.Second, 5*time.Second })
	m := miniredis.RunT(t)
	hole := newBlackHole(t, m.Addr())
	rdb := redis.NewClient(&redis.Options{Addr: hole.addr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb, Config{})
	publisher := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = publisher.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan store.Event, 100)
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(ctx, func(e store.Event) { events <- e }) }()
	t.Cleanup(func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
	next := func() store.Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return store.Event{}
		}
	}
	publish := func(id string) {
		t.Helper()
		require.NoError(t, publisher.Publish(ctx, keys.Events, `{"type":"updated","id":"`+id+`"}`).Err())
	}
	require.Equal(t, store.EventReset, next().Type)

	// Quiet for several ping intervals: pinged, answered, kept.
	pongs := hole.pongs.Load()
	require.Eventually(t, func() bool { return hole.pongs.Load() >= pongs+3 }, 10*time.Second, time.Millisecond, "three pings of the quiet subscription answered")
	publish("quiet")
	require.Equal(t, store.Event{Type: store.EventUpdated, TenantID: "quiet"}, next(), "no reset: the subscription was kept")

	accepted := hole.accepted.Load()
	hole.on.Store(true)
	publish("lost") // dropped on its way
	// The unanswered ping gives the subscription up: it dials again.
	require.Eventually(t, func() bool { return hole.accepted.Load() > accepted }, 10*time.Second, time.Millisecond, "the silent subscription given up")
	hole.on.Store(false)
	t0 := time.Now()
	require.Equal(t, store.EventReset, next().Type, "subscribed again, with a reset for what was lost")
	t.Logf("reset %v after the hole closed", time.Since(t0))
	publish("after")
	for {
		if e := next(); e.Type != store.EventReset {
			require.Equal(t, store.Event{Type: store.EventUpdated, TenantID: "after"}, e)
			break
		}
	}
}
