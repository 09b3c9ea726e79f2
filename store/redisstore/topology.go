package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
)

// reloadEvery is the least time between two reloads of a cluster's slot
// map that the failures of one client ask for. While a master is down
// every command of its slots fails; one reload per half second finds the
// promoted replica within about that of the cluster being ok again, and
// costs the cluster one CLUSTER SLOTS per client and half second, only
// while commands fail.
const reloadEvery = 500 * time.Millisecond

// follower keeps a cluster client's slot map current across failovers.
//
// go-redis reloads a cluster client's slot map when a node answers MOVED
// or READONLY, and otherwise only every ClusterStateReloadInterval
// (default: 60 seconds). A master that died answers nothing: the client
// dials it again and again for each command of its slots, with the slot
// map that still names it, until the periodic reload; a subscription that
// lived on it does the same. In the meantime the cluster has long promoted
// the master's replica. The follower, installed as a hook of the client,
// reloads the slot map (at most once per reloadEvery) whenever a command
// fails in a way that may mean the topology changed, so that the client
// follows a failover within about a second of the cluster being ok, for
// the store's commands and for the host's own alike.
type follower struct {
	reload func()           // asks the client for a reload in the background
	now    func() time.Time // time.Now; a test's clock
	next   atomic.Int64     // unix nanoseconds before which no reload starts
}

// followers maps each cluster client that a Store was made on to its
// follower, so that a client gets one hook however many Stores share it.
// An entry is dropped when its client is garbage collected.
var followers sync.Map // weak.Pointer[redis.ClusterClient] -> *follower

var _ redis.Hook = (*follower)(nil)

// followTopology returns the follower of rdb, installing it on first use,
// or nil when rdb is not a cluster client (a single node or Sentinel
// needs none: go-redis's failover client follows Sentinel by itself).
func followTopology(rdb redis.UniversalClient) *follower {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok || cc == nil {
		return nil
	}
	key := weak.Make(cc)
	if f, ok := followers.Load(key); ok {
		return f.(*follower)
	}
	// The reload reaches the client through the weak pointer, so that a
	// follower never keeps a client alive: the client holds the follower
	// (as a hook), and followers holds it too.
	f, loaded := followers.LoadOrStore(key, newFollower(func() {
		if cc := key.Value(); cc != nil {
			cc.ReloadState(context.Background())
		}
	}))
	if loaded {
		return f.(*follower)
	}
	runtime.AddCleanup(cc, func(k weak.Pointer[redis.ClusterClient]) { followers.Delete(k) }, key)
	cc.AddHook(f.(*follower))
	return f.(*follower)
}

// newFollower returns a follower that calls reload.
func newFollower(reload func()) *follower {
	return &follower{reload: reload, now: time.Now}
}

// failed asks for a reload of the slot map when err may mean that the
// topology changed, unless one started less than reloadEvery ago. The
// reload runs in the background (go-redis coalesces concurrent ones); the
// command that failed is not retried here.
func (f *follower) failed(err error) {
	if f == nil || !topologyError(err) {
		return
	}
	now := f.now().UnixNano()
	next := f.next.Load()
	if now < next || !f.next.CompareAndSwap(next, now+int64(reloadEvery)) {
		return
	}
	f.reload()
}

// DialHook leaves dialing alone.
func (f *follower) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook watches the result of every command.
func (f *follower) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil {
			f.failed(err)
		}
		return err
	}
}

// ProcessPipelineHook watches the result of every pipeline and
// transaction, whose commands may each have failed on their own node.
func (f *follower) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil {
			f.failed(err)
		}
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				f.failed(cmd.Err())
			}
		}
		return err
	}
}

// topologyError reports whether err may mean that a node died, lost its
// slots or is being replaced: a network error, a timeout, a closed node
// client, or an error reply of a cluster in transition. A caller that
// gave up (context.Canceled), a missing key and every other error reply
// say nothing about the topology.
func topologyError(err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, errUnsubscribed), errors.Is(err, errNotMaster),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, redis.ErrClosed),
		errors.Is(err, redis.ErrPoolTimeout):
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if _, ok := redis.IsMovedError(err); ok {
		return true
	}
	if _, ok := redis.IsAskError(err); ok {
		return true
	}
	if redis.IsClusterDownError(err) || redis.IsMasterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsLoadingError(err) || redis.IsReadOnlyError(err) {
		return true
	}
	// go-redis reports some broken connections only by their text.
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection refused")
}
