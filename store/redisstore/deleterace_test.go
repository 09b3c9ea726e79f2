package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// beforeCommand is a go-redis hook that runs fn once, just before the
// first command for which match is true is sent.
type beforeCommand struct {
	mu    sync.Mutex
	match func(args []any) bool
	fn    func()
}

func (h *beforeCommand) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *beforeCommand) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		var fn func()
		if h.match != nil && h.match(cmd.Args()) {
			fn, h.match, h.fn = h.fn, nil, nil
		}
		h.mu.Unlock()
		if fn != nil {
			fn()
		}
		return next(ctx, cmd)
	}
}

func (h *beforeCommand) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestDeleteRacingUpdateLeavesNoClaim: an Update that moves the tenant's
// custom domain and its issuer and audience lands between the read of the
// record by a Delete and the record's removal. The Delete must not leave
// the new claims naming the ID: a tenant created later under it, for
// another organisation, would be reached at the old tenant's domain and
// named by the old tenant's identity provider.
func TestDeleteRacingUpdateLeavesNoClaim(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		other := redisstore.New(rdb, redisstore.Config{})
		acme := &tenant.Tenant{ID: "acme", Name: "ACME", Domain: "old.acme.example", Status: tenant.StatusActive,
			OIDC: tenant.OIDC{Issuer: "https://idp.acme.example", Audience: "old"}}
		_, err := other.Tenants().Create(ctx, acme)
		require.NoError(t, err)

		h := &beforeCommand{}
		rdb.AddHook(h)
		s := redisstore.New(rdb, redisstore.Config{})
		moved := *acme
		moved.Domain, moved.OIDC.Audience = "new.acme.example", "new"
		updateErr := errors.New("the update did not run")
		h.mu.Lock()
		h.match = func(args []any) bool {
			// The Delete's release of the old domain: after its read of
			// the record, before the record's removal.
			return slices.Contains(args, any(keys.Domain("old.acme.example")))
		}
		h.fn = func() {
			// Another process, on another connection: the hook is not
			// reentered (match is cleared).
			_, updateErr = other.Tenants().Update(context.WithoutCancel(ctx), &moved)
		}
		h.mu.Unlock()

		_, err = s.Tenants().Delete(ctx, "acme")
		require.NoError(t, err)
		require.NoError(t, updateErr, "the update ran during the delete")

		for _, host := range []string{"old.acme.example", "new.acme.example"} {
			id, err := s.Tenants().LookupDomain(ctx, host)
			assert.ErrorIs(t, err, store.ErrNotFound, "domain %s still names %q", host, id)
		}
		for _, aud := range []string{"old", "new"} {
			id, err := s.Tenants().LookupIssuer(ctx, "https://idp.acme.example", aud)
			assert.ErrorIs(t, err, store.ErrNotFound, "issuer and audience %q still names %q", aud, id)
		}
		_, err = s.Tenants().Get(ctx, "acme")
		assert.ErrorIs(t, err, store.ErrNotFound)

		// Another organisation takes the ID: it is not reached at the
		// old tenant's new domain.
		_, err = s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "Other", Status: tenant.StatusActive})
		require.NoError(t, err)
		_, err = s.Tenants().LookupDomain(ctx, "new.acme.example")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}
