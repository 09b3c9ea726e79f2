package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// hangUp cancels the caller's context once a command that matches has
// been answered: a client that hangs up just after a write took effect.
type hangUp struct {
	match  func(args []any) bool
	cancel context.CancelFunc
	once   sync.Once
}

func (h *hangUp) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hangUp) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && h.match(cmd.Args()) {
			h.once.Do(h.cancel)
		}
		return err
	}
}

func (h *hangUp) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func argsAre(args []any, want ...string) bool {
	if len(args) < len(want) {
		return false
	}
	for i, w := range want {
		if !strings.EqualFold(fmt.Sprint(args[i]), w) {
			return false
		}
	}
	return true
}

// A create or update whose caller gives up (an admin client that hangs
// up) just after the write took effect still finishes what follows it:
// the old domain and issuer claims are released and the event goes out,
// so that no claim keeps naming the tenant and every replica hears of the
// change. Before, the steps after the write ran on the canceled context:
// the update answered an error though it was made, the old claims stayed,
// and no event was published.
func TestWriteFinishesAfterHangUp(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb, Config{})
	acme := &tenant.Tenant{ID: "acme", Name: "Acme", Status: tenant.StatusActive, Domain: "a.example.com",
		OIDC: tenant.OIDC{Issuer: "https://idp.example.com", Audience: "mcp-acme"}}

	sub := rdb.Subscribe(t.Context(), keys.Events)
	t.Cleanup(func() { _ = sub.Close() })
	_, err := sub.Receive(t.Context())
	require.NoError(t, err)
	published := func() string {
		t.Helper()
		msg, err := sub.ReceiveMessage(t.Context())
		require.NoError(t, err)
		return msg.Payload
	}

	ctx, cancel := context.WithCancel(t.Context())
	h := &hangUp{cancel: cancel, match: func(args []any) bool { return argsAre(args, "zadd", keys.Index) }}
	rdb.AddHook(h)
	_, err = s.Tenants().Create(ctx, acme)
	require.NoError(t, err)
	require.Error(t, ctx.Err(), "the caller gave up after the tenant was indexed")
	assert.Equal(t, `{"type":"created","id":"acme"}`, published())

	ctx, cancel = context.WithCancel(t.Context())
	h.once, h.cancel = sync.Once{}, cancel
	h.match = func(args []any) bool {
		return argsAre(args, "evalsha", replaceScript.Hash()) || argsAre(args, "eval", replaceLua)
	}
	moved := *acme
	moved.Domain, moved.OIDC.Audience = "b.example.com", "mcp-acme-2"
	_, err = s.Tenants().Update(ctx, &moved)
	require.NoError(t, err)
	require.Error(t, ctx.Err(), "the caller gave up after the record was replaced")
	assert.Equal(t, `{"type":"updated","id":"acme"}`, published())
	_, err = s.Tenants().LookupDomain(t.Context(), "a.example.com")
	assert.ErrorIs(t, err, store.ErrTenantNotFound, "the old domain is released")
	_, err = s.Tenants().LookupIssuer(t.Context(), acme.OIDC.Issuer, acme.OIDC.Audience)
	assert.ErrorIs(t, err, store.ErrTenantNotFound, "the old issuer and audience are released")
	n, err := rdb.ZScore(t.Context(), keys.Issuers, keys.Pair(acme.OIDC.Issuer, acme.OIDC.Audience)).Result()
	assert.ErrorIs(t, err, redis.Nil, "the old pair is unlisted (score %v)", n)
}

// after calls fn once a command that matches has been answered.
type after struct {
	match func(args []any) bool
	fn    func()
	once  sync.Once
}

func (h *after) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *after) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if h.match(cmd.Args()) {
			h.once.Do(h.fn)
		}
		return err
	}
}

func (h *after) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// An issuer and audience claim is listed in the set of pairs before it is
// made, never after: a replica that loads its directory at the moment
// between the two must not take a claimed pair for a made-up one (it would
// refuse the tenant's tokens until its next reload).
func TestPairListedBeforeClaim(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb, Config{})
	acme := &tenant.Tenant{ID: "acme", Name: "Acme", Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: "https://idp.example.com", Audience: "mcp-acme"}}
	pair := keys.Pair(acme.OIDC.Issuer, acme.OIDC.Audience)
	checked := false
	rdb.AddHook(&after{
		match: func(args []any) bool { return argsAre(args, "set", keys.OIDCClaim(pair)) },
		fn: func() {
			checked = true
			_, err := rdb.ZScore(context.Background(), keys.Issuers, pair).Result()
			assert.NoError(t, err, "the claimed pair is listed")
		},
	})
	_, err := s.Tenants().Create(t.Context(), acme)
	require.NoError(t, err)
	require.True(t, checked, "the claim was seen")
}

// A delete whose caller gives up once the record is gone still takes the
// tenant off the index and publishes the event, so that the other
// replicas stop serving it; before, both ran on the canceled context and
// the other replicas served the deleted tenant until their caches expired.
func TestDeleteAnnouncedAfterHangUp(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s := New(rdb, Config{})
	acme := &tenant.Tenant{ID: "acme", Name: "Acme", Status: tenant.StatusActive}
	_, err := s.Tenants().Create(t.Context(), acme)
	require.NoError(t, err)
	sub := rdb.Subscribe(t.Context(), keys.Events)
	t.Cleanup(func() { _ = sub.Close() })
	_, err = sub.Receive(t.Context())
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	// The record is removed by the delifvalue script, whose first key it
	// is.
	rdb.AddHook(&hangUp{cancel: cancel, match: func(args []any) bool {
		return (argsAre(args, "evalsha") || argsAre(args, "eval")) && len(args) > 3 && args[3] == keys.Metadata("acme")
	}})
	_, _ = s.Tenants().Delete(ctx, "acme")
	require.Error(t, ctx.Err(), "the caller gave up after the record was deleted")
	in, err := rdb.ZScore(t.Context(), keys.Index, "acme").Result()
	assert.ErrorIs(t, err, redis.Nil, "off the index (score %v)", in)
	wait, stop := context.WithTimeout(t.Context(), 5*time.Second) // a bound on the wait, not a measure
	defer stop()
	msg, err := sub.ReceiveMessage(wait)
	require.NoError(t, err, "the deleted event is published")
	assert.Equal(t, `{"type":"deleted","id":"acme"}`, msg.Payload)
}
