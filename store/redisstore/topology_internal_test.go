package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTopologyError(t *testing.T) {
	down := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{fmt.Errorf("wrapped: %w", context.Canceled), false},
		{errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{redis.ErrCrossSlot, false},
		{down, true},
		{fmt.Errorf("redisstore: get tenant: %w", down), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{context.DeadlineExceeded, true},
		{redis.ErrClosed, true},
		{redis.ErrPoolTimeout, true},
		{errUnsubscribed, true},
		{errors.New("write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe"), true},
	} {
		assert.Equal(t, tc.want, topologyError(tc.err), "%v", tc.err)
	}
	// Error replies, as go-redis parses them off the wire.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, tc := range []struct {
		reply string
		want  bool
	}{
		{"CLUSTERDOWN The cluster is down", true},
		{"MASTERDOWN Link with MASTER is down", true},
		{"TRYAGAIN Multiple keys request during rehashing of slot", true},
		{"LOADING Redis is loading the dataset in memory", true},
		{"READONLY You can't write against a read only replica.", true},
		{"MOVED 3999 127.0.0.1:6381", true},
		{"ASK 3999 127.0.0.1:6381", true},
		{"NOPERM this user has no permissions to access the 'tenant:events' channel", false},
		{"ERR unknown command 'ssubscribe'", false},
	} {
		err := replyError(t, tc.reply)
		assert.Equal(t, tc.want, topologyError(err), tc.reply)
		assert.Equal(t, !tc.want, refused(err), "refused: %s", tc.reply)
	}
}

// replyError returns the error go-redis makes of an error reply.
func replyError(t *testing.T, reply string) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Every command gets the reply, whatever go-redis sends first.
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write([]byte("-" + reply + "\r\n")); err != nil {
				return
			}
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: l.Addr().String(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer rdb.Close()
	err = rdb.Get(context.Background(), "k").Err()
	require.Error(t, err)
	require.Contains(t, err.Error(), reply[:5])
	return err
}

// TestFollowerRateLimit: a burst of failures asks for one reload, and
// failures keep asking for one per reloadEvery while they last; errors
// that say nothing about the topology ask for none.
func TestFollowerRateLimit(t *testing.T) {
	reloads := 0
	f := newFollower(func() { reloads++ })
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f.now = func() time.Time { return now }
	down := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

	f.failed(redis.Nil)
	f.failed(context.Canceled)
	assert.Equal(t, 0, reloads, "not a topology error")
	for range 100 {
		f.failed(down)
	}
	assert.Equal(t, 1, reloads, "one reload for a burst")
	now = now.Add(reloadEvery - time.Millisecond)
	f.failed(down)
	assert.Equal(t, 1, reloads)
	now = now.Add(time.Millisecond)
	f.failed(down)
	assert.Equal(t, 2, reloads, "another once reloadEvery has passed")

	var none *follower // a Store on a single node has none
	none.failed(down)
}

// TestFollowerOncePerClient: Stores made on one cluster client share one
// follower (one hook), other clients get their own, a single-node client
// none; the entry goes away with its client.
func TestFollowerOncePerClient(t *testing.T) {
	a := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	b := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer single.Close()

	sa1, sa2, sb := New(a, Config{}), New(a, Config{}), New(b, Config{})
	require.NotNil(t, sa1.topology)
	assert.Same(t, sa1.topology, sa2.topology)
	assert.NotSame(t, sa1.topology, sb.topology)
	assert.True(t, sa1.sharded)
	assert.Nil(t, New(single, Config{}).topology)
	assert.False(t, New(single, Config{}).sharded)

	count := func() int {
		n := 0
		followers.Range(func(any, any) bool { n++; return true })
		return n
	}
	before := count()
	_ = a.Close()
	_ = b.Close()
	a, b, sa1, sa2, sb = nil, nil, nil, nil, nil
	require.Eventually(t, func() bool {
		runtime.GC()
		return count() <= before-2
	}, 10*time.Second, 10*time.Millisecond, "a collected client's entry is dropped")
}
