package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// interleave is a go-redis hook that runs fn once, just before the first
// command whose arguments start with match: a concurrent writer's steps
// landing between two steps of the operation under test, at exactly the
// worst moment.
type interleave struct {
	match []string
	fn    func(ctx context.Context)
	once  sync.Once
	mu    sync.Mutex
	busy  bool
}

func (h *interleave) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *interleave) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		busy := h.busy
		h.mu.Unlock()
		if !busy && h.matches(cmd.Args()) {
			h.once.Do(func() {
				h.mu.Lock()
				h.busy = true // fn's own commands pass straight through
				h.mu.Unlock()
				h.fn(ctx)
				h.mu.Lock()
				h.busy = false
				h.mu.Unlock()
			})
		}
		return next(ctx, cmd)
	}
}

func (h *interleave) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *interleave) matches(args []any) bool {
	if len(args) < len(h.match) {
		return false
	}
	for i, m := range h.match {
		if !strings.EqualFold(fmt.Sprint(args[i]), m) {
			return false
		}
	}
	return true
}

// directoryOf reads the inactive IDs and the domains of s.
func directoryOf(t *testing.T, s *redisstore.Store) (inactive []string, domains map[string]string) {
	ctx := t.Context()
	domains = map[string]string{}
	require.NoError(t, s.Tenants().InactiveIDs(ctx, func(ids []string) error {
		inactive = append(inactive, ids...)
		return nil
	}))
	require.NoError(t, s.Tenants().Domains(ctx, func(hosts, ids []string) error {
		for i := range hosts {
			domains[hosts[i]] = ids[i]
		}
		return nil
	}))
	return inactive, domains
}

func active(id, domain string) *tenant.Tenant {
	return &tenant.Tenant{ID: id, Name: id, Domain: domain, Status: tenant.StatusActive}
}

func suspended(id, domain string) *tenant.Tenant {
	t := active(id, domain)
	t.Status = tenant.StatusSuspended
	return t
}

// The sets of inactive tenants and of domains live in other slots than the
// records and domain keys they describe, so the writes that keep them in
// step cannot be atomic. These tests put a concurrent writer's step at the
// worst moment of each write and check that the sets never end up turning
// a real tenant away: an active tenant listed as inactive, or a live
// domain unlisted.
func TestDirectoryInterleavings(t *testing.T) {
	tests := []struct {
		name  string
		setup func(ctx context.Context, s *redisstore.Store) error
		// match and meanwhile: the concurrent step, run before the
		// command that starts with match.
		match     []string
		meanwhile func(ctx context.Context, rdb *redis.Client)
		write     func(ctx context.Context, s *redisstore.Store) error
		inactive  []string
		domains   map[string]string
	}{
		{
			// A suspension lists the tenant after this activation took
			// it off the set and before the activation's record lands.
			name: "activation after a late suspension listing",
			setup: func(ctx context.Context, s *redisstore.Store) error {
				_, err := s.Tenants().Create(ctx, suspended("acme", ""))
				return err
			},
			match:     []string{"evalsha"},
			meanwhile: func(ctx context.Context, rdb *redis.Client) { rdb.ZAdd(ctx, keys.Inactive, redis.Z{Member: "acme"}) },
			write: func(ctx context.Context, s *redisstore.Store) error {
				_, err := s.Tenants().Update(ctx, active("acme", ""))
				return err
			},
		},
		{
			// An activation lands (record and listing) between this
			// suspension's record and its listing.
			name: "suspension overtaken by an activation",
			setup: func(ctx context.Context, s *redisstore.Store) error {
				_, err := s.Tenants().Create(ctx, active("acme", ""))
				return err
			},
			match: []string{"zadd", keys.Inactive},
			meanwhile: func(ctx context.Context, rdb *redis.Client) {
				data := `{"id":"acme","name":"acme","limits":{"maxClients":0,"maxSessions":0,"rateLimit":0},"status":"active"}`
				rdb.Set(ctx, keys.Metadata("acme"), data, 0)
			},
			write: func(ctx context.Context, s *redisstore.Store) error {
				_, err := s.Tenants().Update(ctx, suspended("acme", ""))
				return err
			},
		},
		{
			// The domain's previous owner unlists it after this claim
			// listed it and before the claim's SET NX.
			name:  "claim after a late release",
			setup: func(context.Context, *redisstore.Store) error { return nil },
			match: []string{"set", keys.Domain("shared.example.com")},
			meanwhile: func(ctx context.Context, rdb *redis.Client) {
				rdb.ZRem(ctx, keys.Domains, "shared.example.com")
			},
			write: func(ctx context.Context, s *redisstore.Store) error {
				_, err := s.Tenants().Create(ctx, active("acme", "shared.example.com"))
				return err
			},
			domains: map[string]string{"shared.example.com": "acme"},
		},
		{
			// Another tenant claims the domain (key and listing) after
			// this release deleted the key and before it unlists it.
			name: "release overtaken by a claim",
			setup: func(ctx context.Context, s *redisstore.Store) error {
				_, err := s.Tenants().Create(ctx, active("beta", "shared.example.com"))
				return err
			},
			match: []string{"zrem", keys.Domains},
			meanwhile: func(ctx context.Context, rdb *redis.Client) {
				rdb.Set(ctx, keys.Domain("shared.example.com"), "acme", 0)
				rdb.ZAdd(ctx, keys.Domains, redis.Z{Member: "shared.example.com"})
			},
			write: func(ctx context.Context, s *redisstore.Store) error {
				_, err := s.Tenants().Update(ctx, active("beta", "beta.example.com"))
				return err
			},
			domains: map[string]string{"shared.example.com": "acme", "beta.example.com": "beta"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s, _, rdb, _ := newMiniredis(t)
			require.NoError(t, tt.setup(ctx, s))
			rdb.AddHook(&interleave{match: tt.match, fn: func(ctx context.Context) { tt.meanwhile(ctx, rdb) }})
			require.NoError(t, tt.write(ctx, s))
			inactive, domains := directoryOf(t, s)
			slices.Sort(inactive)
			assert.Equal(t, tt.inactive, inactive)
			if tt.domains == nil {
				tt.domains = map[string]string{}
			}
			assert.Equal(t, tt.domains, domains)
		})
	}
}

// TestOnChange: every change the store makes is handed to OnChange before
// its event is published, also when the publish fails, so that the
// process that made a change knows it at once.
func TestOnChange(t *testing.T) {
	ctx := t.Context()
	_, m, rdb, _ := newMiniredis(t)
	var mu sync.Mutex
	var seen []string
	s := redisstore.New(rdb, redisstore.Config{OnChange: func(e store.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(e.Type)+" "+e.TenantID)
	}})
	_, err := s.Tenants().Create(ctx, active("acme", ""))
	require.NoError(t, err)
	_, err = s.Tenants().Update(ctx, suspended("acme", ""))
	require.NoError(t, err)
	_, err = s.Tenants().Create(ctx, active("acme", "")) // refused: no change
	require.Error(t, err)
	_, err = s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, []string{"created acme", "updated acme", "deleted acme"}, seen)

	// A change whose publish fails is still handed over.
	rdb.AddHook(&interleave{match: []string{"publish"}, fn: func(context.Context) { m.SetError("LOADING") }})
	_, err = s.Tenants().Create(ctx, active("beta", ""))
	m.SetError("")
	require.ErrorIs(t, err, store.ErrNotPublished)
	assert.Equal(t, "created beta", seen[len(seen)-1])
}

// TestReindex: data written before the directory sets and the issuer
// claims existed is brought in step by Reindex, and tenants that share an
// issuer and audience are named.
func TestReindex(t *testing.T) {
	ctx := t.Context()
	s, _, rdb, _ := newMiniredis(t)
	legacy := func(id, status, domain, audience string) {
		rec := fmt.Sprintf(`{"id":%q,"name":%q,"domain":%q,"oidc":{"issuer":"https://idp.example.com","audience":%q},`+
			`"limits":{"maxClients":0,"maxSessions":0,"rateLimit":0},"status":%q}`, id, id, domain, audience, status)
		require.NoError(t, rdb.Set(ctx, keys.Metadata(id), rec, 0).Err())
		require.NoError(t, rdb.ZAdd(ctx, keys.Index, redis.Z{Member: id}).Err())
		if domain != "" {
			require.NoError(t, rdb.Set(ctx, keys.Domain(domain), id, 0).Err())
		}
	}
	legacy("acme", "suspended", "mcp.acme.com", "seed")
	legacy("beta", "active", "mcp.beta.com", "seed-beta")
	legacy("gamma", "active", "", "seed") // shares acme's pair
	inactive, domains := directoryOf(t, s)
	require.Empty(t, inactive)
	require.Empty(t, domains)

	for range 2 { // idempotent
		err := s.Tenants().Reindex(ctx)
		require.ErrorIs(t, err, store.ErrIssuerAudienceExists)
		assert.Contains(t, err.Error(), `tenant "gamma"`)
		inactive, domains = directoryOf(t, s)
		assert.Equal(t, []string{"acme"}, inactive)
		assert.Equal(t, map[string]string{"mcp.acme.com": "acme", "mcp.beta.com": "beta"}, domains)
		pairs := map[string]string{}
		require.NoError(t, s.Tenants().Issuers(ctx, func(ps, ids []string) error {
			for i, p := range ps {
				pairs[p] = ids[i]
			}
			return nil
		}))
		assert.Equal(t, map[string]string{
			store.IssuerPair("https://idp.example.com", "seed"):      "acme",
			store.IssuerPair("https://idp.example.com", "seed-beta"): "beta",
		}, pairs, "the pairs claimed are listed, the shared one with its first tenant")
	}
	// The listing names a pair as its claim key does.
	assert.Equal(t, keys.OIDC("https://idp.example.com", "seed"), keys.OIDCClaim(store.IssuerPair("https://idp.example.com", "seed")))
	// The pairs are claimed now: a new tenant cannot take acme's.
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "delta", Name: "delta", Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: "https://idp.example.com", Audience: "seed-beta"}})
	require.ErrorIs(t, err, store.ErrIssuerAudienceExists)
}

// TestIssuersSetFollowsClaims: the set of pairs holds exactly the pairs
// that are claimed once the writes are done, so that it never grows with
// pairs nobody trusts any more. A refused claim leaves the pair listed
// with its holder.
func TestIssuersSetFollowsClaims(t *testing.T) {
	ctx := t.Context()
	s, _, rdb, _ := newMiniredis(t)
	members := func() []string {
		t.Helper()
		got, err := rdb.ZRange(ctx, keys.Issuers, 0, -1).Result()
		require.NoError(t, err)
		return got
	}
	withPair := func(id, audience string) *tenant.Tenant {
		tn := active(id, "")
		tn.OIDC = tenant.OIDC{Issuer: "https://idp.example.com", Audience: audience}
		return tn
	}
	first, second := store.IssuerPair("https://idp.example.com", "one"), store.IssuerPair("https://idp.example.com", "two")
	acme, err := s.Tenants().Create(ctx, withPair("acme", "one"))
	require.NoError(t, err)
	assert.Equal(t, []string{first}, members())

	_, err = s.Tenants().Create(ctx, withPair("beta", "one"))
	require.ErrorIs(t, err, store.ErrIssuerAudienceExists)
	assert.Equal(t, []string{first}, members(), "a refused create keeps the holder's pair listed")

	acme.OIDC.Audience = "two"
	_, err = s.Tenants().Update(ctx, acme)
	require.NoError(t, err)
	assert.Equal(t, []string{second}, members(), "the pair given up is unlisted")

	_, err = s.Tenants().Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Empty(t, members(), "a deleted tenant's pair is unlisted")
}
