package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const staleIssuer = "https://idp.example.com"

func withClaims(id, domain, audience string) *tenant.Tenant {
	return &tenant.Tenant{ID: id, Name: id, Domain: domain, Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: staleIssuer, Audience: audience}}
}

// setRecord writes the record of a tenant as stored, and indexes it, as an
// older version (or a write in progress) leaves it.
func setRecord(t *testing.T, rdb redis.UniversalClient, id, rec string) {
	t.Helper()
	require.NoError(t, rdb.Set(t.Context(), keys.Metadata(id), rec, 0).Err())
	require.NoError(t, rdb.ZAdd(t.Context(), keys.Index, redis.Z{Member: id}).Err())
}

// TestReindexGoesPastUndecodable: records that do not decode, among good
// ones, are named with their tenant and reported at the end; every good
// tenant is indexed, the ones after them too, and the error quotes
// nothing of the records.
func TestReindexGoesPastUndecodable(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := redisstore.New(rdb, redisstore.Config{})
		good := func(id, status, domain, audience string) {
			setRecord(t, rdb, id, fmt.Sprintf(`{"id":%q,"name":%q,"domain":%q,"oidc":{"issuer":%q,"audience":%q},`+
				`"limits":{"maxClients":0,"maxSessions":0,"rateLimit":0},"status":%q}`, id, id, domain, staleIssuer, audience, status))
			if domain != "" {
				require.NoError(t, rdb.Set(ctx, keys.Domain(domain), id, 0).Err())
			}
		}
		good("a-good", "suspended", "a.example.com", "aud-a")
		// Not JSON, a field of the wrong type, a scope the tenant type
		// refuses (its message would quote the scope): each holds a secret.
		setRecord(t, rdb, "b-bad", `{"id":"b-bad","oidc":{"clientSecret":"s3cr3t-one"`)
		setRecord(t, rdb, "c-bad", `{"id":"c-bad","name":42,"oidc":{"clientSecret":"s3cr3t-two"}}`)
		setRecord(t, rdb, "d-bad", `{"id":"d-bad","name":"d","oidc":{"scopes":["s3cr3t three"]}}`)
		good("e-good", "suspended", "e.example.com", "aud-e")
		good("f-good", "active", "", "aud-f")

		err := s.Tenants().Reindex(ctx)
		require.ErrorIs(t, err, redisstore.ErrUndecodable)
		assert.NotErrorIs(t, err, redisstore.ErrStaleClaim)
		for _, id := range []string{"b-bad", "c-bad", "d-bad"} {
			assert.Contains(t, err.Error(), fmt.Sprintf("tenant %q", id))
		}
		assert.NotContains(t, err.Error(), "s3cr3t", "the records' content is never quoted")
		assert.NotContains(t, err.Error(), "a-good")

		inactive, domains := directoryOf(t, s)
		assert.Equal(t, []string{"a-good", "e-good"}, inactive, "the tenants after the bad records are indexed too")
		assert.Equal(t, map[string]string{"a.example.com": "a-good", "e.example.com": "e-good"}, domains)
		for aud, want := range map[string]string{"aud-a": "a-good", "aud-e": "e-good", "aud-f": "f-good"} {
			id, err := s.Tenants().LookupIssuer(ctx, staleIssuer, aud)
			require.NoError(t, err, aud)
			assert.Equal(t, want, id)
		}
	})
}

// TestStaleClaims: claims left by a delete and an update that failed
// midway (naming a tenant without record, and a tenant whose record holds
// another domain and pair now) are reported by Reindex and left in place,
// keep other tenants out until ReleaseStaleClaims deletes them, and the
// live claims are never touched.
func TestStaleClaims(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := redisstore.New(rdb, redisstore.Config{})
		tenants := s.Tenants()
		for _, tn := range []*tenant.Tenant{
			withClaims("acme", "acme.example.com", "aud-acme"),
			withClaims("beta", "beta.example.com", "aud-beta"),
			withClaims("gone", "gone.example.com", "aud-gone"),
		} {
			_, err := tenants.Create(ctx, tn)
			require.NoError(t, err)
		}
		// A delete that removed the record but not the claims.
		require.NoError(t, rdb.Del(ctx, keys.Metadata("gone")).Err())
		require.NoError(t, rdb.ZRem(ctx, keys.Index, "gone").Err())
		// An update that moved beta but did not release the old claims.
		_, err := tenants.Update(ctx, withClaims("beta", "beta2.example.com", "aud-beta2"))
		require.NoError(t, err)
		require.NoError(t, rdb.Set(ctx, keys.Domain("beta.example.com"), "beta", 0).Err())
		require.NoError(t, rdb.Set(ctx, keys.OIDC(staleIssuer, "aud-beta"), "beta", 0).Err())

		stale := []string{
			keys.Domain("beta.example.com"), keys.Domain("gone.example.com"),
			keys.OIDC(staleIssuer, "aud-beta"), keys.OIDC(staleIssuer, "aud-gone"),
		}
		slices.Sort(stale) // as Reindex reports them
		live := map[string]string{
			keys.Domain("acme.example.com"): "acme", keys.Domain("beta2.example.com"): "beta",
			keys.OIDC(staleIssuer, "aud-acme"): "acme", keys.OIDC(staleIssuer, "aud-beta2"): "beta",
		}
		owner := map[string]string{
			keys.Domain("beta.example.com"): "beta", keys.Domain("gone.example.com"): "gone",
			keys.OIDC(staleIssuer, "aud-beta"): "beta", keys.OIDC(staleIssuer, "aud-gone"): "gone",
		}

		for range 2 {
			err = tenants.Reindex(ctx)
			require.ErrorIs(t, err, redisstore.ErrStaleClaim)
			assert.NotErrorIs(t, err, redisstore.ErrUndecodable)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(stale), err.Error())
			for i, key := range stale {
				assert.Contains(t, lines[i], fmt.Sprintf("%q names tenant %q", key, owner[key]))
				assert.True(t, exists(t, rdb, key), "Reindex leaves %s in place", key)
			}
			assert.Contains(t, lines[1], "no record")
			assert.Contains(t, lines[0], "record does not hold it")
			for key := range live {
				assert.NotContains(t, err.Error(), key)
			}
		}
		_, err = tenants.Create(ctx, withClaims("delta", "gone.example.com", "aud-new"))
		require.ErrorIs(t, err, store.ErrDomainExists, "the stale claim keeps others out")

		released, err := tenants.ReleaseStaleClaims(ctx, 10*time.Millisecond)
		require.NoError(t, err)
		assert.Equal(t, stale, released)
		for _, key := range stale {
			assert.False(t, exists(t, rdb, key), "%s released", key)
		}
		for key, id := range live {
			got, err := rdb.Get(ctx, key).Result()
			require.NoError(t, err, "%s is live", key)
			assert.Equal(t, id, got)
		}
		for _, host := range []string{"beta.example.com", "gone.example.com"} {
			err := rdb.ZScore(ctx, keys.Domains, host).Err()
			assert.ErrorIs(t, err, redis.Nil, "%s leaves the set of domains", host)
		}
		err = rdb.ZScore(ctx, keys.Issuers, store.IssuerPair(staleIssuer, "aud-gone")).Err()
		assert.ErrorIs(t, err, redis.Nil, "the pair leaves the set of pairs")

		released, err = tenants.ReleaseStaleClaims(ctx, 10*time.Millisecond)
		require.NoError(t, err)
		assert.Empty(t, released, "nothing more to release")
		require.NoError(t, tenants.Reindex(ctx))
		_, err = tenants.Create(ctx, withClaims("delta", "gone.example.com", "aud-beta"))
		require.NoError(t, err, "the domain and pair are free again")
	})
}

// recordDuringPause is a go-redis hook that runs write once, before the
// first pipeline that reads all the keys of second together: the second
// check of ReleaseStaleClaims (the first reads the domains and the pairs
// apart), so that the records land during its pause. It also notes every
// script run on one of the keys of watch.
type recordDuringPause struct {
	second []string
	once   sync.Once
	write  func()

	watch   []string
	mu      sync.Mutex
	scripts []string
}

func (h *recordDuringPause) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *recordDuringPause) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "eval" || name == "evalsha" {
			for _, arg := range cmd.Args() {
				if key, ok := arg.(string); ok && slices.Contains(h.watch, key) {
					h.mu.Lock()
					h.scripts = append(h.scripts, key)
					h.mu.Unlock()
				}
			}
		}
		return next(ctx, cmd)
	}
}

func (h *recordDuringPause) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, cmd := range cmds {
			if key, ok := cmd.Args()[len(cmd.Args())-1].(string); ok && cmd.Name() == "get" && slices.Contains(h.second, key) {
				n++
			}
		}
		if n == len(h.second) {
			h.once.Do(h.write)
		}
		return next(ctx, cmds)
	}
}

// TestReleaseStaleClaimsSparesCreateInProgress: claims without record,
// as a create leaves them before it writes its record, whose record is
// written between the two checks, are not released; neither is a claim
// whose record comes to hold it (an update in progress).
func TestReleaseStaleClaimsSparesCreateInProgress(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := redisstore.New(rdb, redisstore.Config{})
		tenants := s.Tenants()
		_, err := tenants.Create(ctx, withClaims("acme", "acme.example.com", "aud-acme"))
		require.NoError(t, err)
		// newco's create has claimed its domain and pair, not yet written
		// its record.
		require.NoError(t, rdb.Set(ctx, keys.Domain("newco.example.com"), "newco", 0).Err())
		require.NoError(t, rdb.Set(ctx, keys.OIDC(staleIssuer, "aud-newco"), "newco", 0).Err())
		// acme's update has claimed its new domain, not yet replaced its
		// record.
		require.NoError(t, rdb.Set(ctx, keys.Domain("acme2.example.com"), "acme", 0).Err())

		err = tenants.Reindex(ctx)
		require.ErrorIs(t, err, redisstore.ErrStaleClaim, "both look stale")
		assert.Len(t, strings.Split(err.Error(), "\n"), 3, err.Error())

		wrote := false
		h := &recordDuringPause{second: []string{keys.Domain("newco.example.com"), keys.OIDC(staleIssuer, "aud-newco")}, write: func() {
			bg := context.WithoutCancel(ctx)
			rec := withClaims("newco", "newco.example.com", "aud-newco")
			setRecord(t, rdb, "newco", fmt.Sprintf(`{"id":"newco","name":"newco","domain":%q,"oidc":{"issuer":%q,"audience":%q},"status":"active"}`,
				rec.Domain, rec.OIDC.Issuer, rec.OIDC.Audience))
			_, err := tenants.Update(bg, withClaims("acme", "acme2.example.com", "aud-acme"))
			require.NoError(t, err)
			wrote = true
		}}
		h.watch = []string{keys.Domain("newco.example.com"), keys.OIDC(staleIssuer, "aud-newco"), keys.Domain("acme2.example.com")}
		rdb.AddHook(h)
		released, err := tenants.ReleaseStaleClaims(ctx, 50*time.Millisecond)
		require.NoError(t, err)
		require.True(t, wrote, "the records were written during the pause")
		assert.Empty(t, released, "claims that became valid between the checks are kept")
		assert.Empty(t, h.scripts, "not even deleted for a moment")
		for host, id := range map[string]string{"newco.example.com": "newco", "acme2.example.com": "acme"} {
			got, err := tenants.LookupDomain(ctx, host)
			require.NoError(t, err)
			assert.Equal(t, id, got)
		}
		got, err := tenants.LookupIssuer(ctx, staleIssuer, "aud-newco")
		require.NoError(t, err)
		assert.Equal(t, "newco", got)
		require.NoError(t, tenants.Reindex(ctx), "nothing is stale any more")
	})
}

// TestReleaseStaleClaimsCanceled: a caller that gives up during the pause
// releases nothing.
func TestReleaseStaleClaimsCanceled(t *testing.T) {
	_, _, rdb, _ := newMiniredis(t)
	s := redisstore.New(rdb, redisstore.Config{})
	require.NoError(t, rdb.Set(t.Context(), keys.Domain("gone.example.com"), "gone", 0).Err())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	released, err := s.Tenants().ReleaseStaleClaims(ctx, time.Hour)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Empty(t, released)
	assert.True(t, exists(t, rdb, keys.Domain("gone.example.com")))
	_, err = s.Tenants().ReleaseStaleClaims(t.Context(), -time.Second)
	assert.Error(t, err, "a negative pause")
}

// TestRecordNamingAnotherTenant: a record stored under one tenant's key
// that names another (copied there by hand) is never read as the tenant
// it names: Get, List and Reindex refuse it, naming the key's tenant and
// quoting nothing of the record.
func TestRecordNamingAnotherTenant(t *testing.T) {
	onEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		s := redisstore.New(rdb, redisstore.Config{})
		_, err := s.Tenants().Create(ctx, withClaims("acme", "", "aud-acme"))
		require.NoError(t, err)
		setRecord(t, rdb, "globex", `{"id":"acme","name":"s3cr3t","status":"active"}`)

		got, err := s.Tenants().Get(ctx, "globex")
		require.ErrorIs(t, err, redisstore.ErrUndecodable)
		assert.Nil(t, got)
		assert.Contains(t, err.Error(), `tenant "globex"`)
		assert.NotContains(t, err.Error(), "s3cr3t")
		_, _, err = s.Tenants().List(ctx, "", 10)
		require.ErrorIs(t, err, redisstore.ErrUndecodable)
		err = s.Tenants().Reindex(ctx)
		require.ErrorIs(t, err, redisstore.ErrUndecodable)
		assert.Contains(t, err.Error(), `tenant "globex"`)

		got, err = s.Tenants().Get(ctx, "acme")
		require.NoError(t, err)
		assert.Equal(t, "acme", got.ID)
	})
}
