package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
)

type result struct {
	code           int
	stdout, stderr string
}

func runWith(t *testing.T, url string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"REDIS_URL": url}
	code := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestExitStatus(t *testing.T) {
	m := miniredis.RunT(t)
	url := "redis://" + m.Addr()
	require.NoError(t, m.Set("client:a", "a"))
	m.SetTTL("client:a", time.Hour)
	require.NoError(t, m.Set("session:s", "s"))
	require.NoError(t, m.Set("rate-limit:x", "legacy"))
	require.NoError(t, m.Set("tenant:{default}:rate-limit:x", "current"))

	r := runWith(t, url, "-dry-run")
	assert.Equal(t, exitConflict, r.code, "a dry run reports the conflict it would meet")
	assert.Contains(t, r.stdout, "dry run: 3 legacy keys found; would move 2")
	assert.True(t, m.Exists("client:a"), "a dry run writes nothing")

	r = runWith(t, url)
	assert.Equal(t, exitConflict, r.code, r.stderr)
	assert.Contains(t, r.stdout, "moved 2")
	assert.Contains(t, r.stdout, "1 conflict left in place")
	assert.Contains(t, r.stderr, `conflict: "rate-limit:x": "tenant:{default}:rate-limit:x" already exists`)
	assert.Contains(t, r.stderr, "migrating legacy keys on "+m.Addr())

	r = runWith(t, url)
	assert.Equal(t, exitConflict, r.code, "the same conflict fails a later run too")
	assert.Contains(t, r.stdout, "moved 0")
	assert.Contains(t, r.stdout, "1 conflict left in place")

	m.Del("rate-limit:x") // the operator resolves the conflict
	r = runWith(t, url)
	assert.Equal(t, exitOK, r.code)
	assert.Contains(t, r.stdout, "nothing to migrate, moved 0")

	got, err := m.Get("tenant:{default}:client:a")
	require.NoError(t, err)
	assert.Equal(t, "a", got)
	assert.Equal(t, time.Hour, m.TTL("tenant:{default}:client:a"))
}

func TestFlags(t *testing.T) {
	m := miniredis.RunT(t)
	url := "redis://" + m.Addr()
	require.NoError(t, m.Set("custom:k", "v"))
	require.NoError(t, m.Set("client:c", "c"))

	r := runWith(t, url, "-patterns", "custom:*", "-tenant", "acme", "-batch", "1", "-quiet")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, `tenant "acme" does not exist: create it first`)
	assert.True(t, m.Exists("custom:k"), "nothing moves into a tenant that does not exist")

	require.NoError(t, m.Set("tenant:metadata:{acme}", `{"id":"acme"}`))
	r = runWith(t, url, "-patterns", "custom:*", "-tenant", "acme", "-batch", "1", "-quiet")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr, "-quiet")
	assert.True(t, m.Exists("tenant:{acme}:custom:k"))
	assert.True(t, m.Exists("client:c"), "only the given patterns move")
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		args      []string
		stderr    string
	}{
		{"no REDIS_URL", "", nil, "REDIS_URL is not set"},
		{"bad REDIS_URL", "http://x", nil, "invalid REDIS_URL"},
		{"bad flag", "redis://localhost:1", []string{"-nope"}, "flag provided but not defined"},
		{"extra argument", "redis://localhost:1", []string{"now"}, "unexpected argument"},
		{"bad batch", "redis://localhost:1", []string{"-batch", "-5"}, "batch size"},
		{"bad tenant", "redis://localhost:1", []string{"-tenant", "Not Valid"}, "invalid tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runWith(t, tc.url, tc.args...)
			assert.Equal(t, exitFailure, r.code)
			assert.Contains(t, r.stderr, tc.stderr)
		})
	}
}

func TestUnreachableRedis(t *testing.T) {
	m := miniredis.RunT(t)
	url := "redis://" + m.Addr()
	m.Close()
	r := runWith(t, url, "-quiet")
	assert.Equal(t, exitFailure, r.code)
	assert.Contains(t, r.stderr, "run again to finish")
}

// TestKeyNamesAreQuoted is the regression test of legacy key names printed
// raw: an ESC sequence or a CR/LF in a name cleared the screen or forged a
// line of the output ("migrate: 0 legacy keys, all fine").
func TestKeyNamesAreQuoted(t *testing.T) {
	m := miniredis.RunT(t)
	url := "redis://" + m.Addr()
	forged := "\x1b[2J\x1b[H\rmigrate: 0 legacy keys, all fine\n"
	require.NoError(t, m.Set("client:"+forged, "x"))
	// Its target exists too: an older version printed it as a conflict.
	require.NoError(t, m.Set("tenant:{default}:client:"+forged, "y"))
	require.NoError(t, m.Set("session:\x1b]0;pwned\x07", "x"))
	// A conflict whose name the store accepts is quoted too.
	require.NoError(t, m.Set("rate-limit:x'\"y", "legacy"))
	require.NoError(t, m.Set("tenant:{default}:rate-limit:x'\"y", "current"))

	for _, args := range [][]string{{"-dry-run"}, nil} {
		r := runWith(t, url, args...)
		assert.Equal(t, exitConflict, r.code, r.stderr)
		for _, out := range []string{r.stdout, r.stderr} {
			assert.NotContains(t, out, "\x1b")
			assert.NotContains(t, out, "\a")
			for _, line := range strings.Split(out, "\n") {
				assert.False(t, strings.HasPrefix(line, "migrate: 0 legacy keys"), "a forged line: %q", line)
			}
		}
		assert.NotContains(t, r.stderr, "\rmigrate", "no carriage return from a key name")
		assert.Contains(t, r.stderr, `refused: "client:\x1b[2J\x1b[H\rmigrate: 0 legacy keys, all fine\n"`)
		assert.Contains(t, r.stderr, `refused: "session:\x1b]0;pwned\a"`)
		assert.Contains(t, r.stderr, `conflict: "rate-limit:x'\"y": "tenant:{default}:rate-limit:x'\"y"`)
	}
	assert.True(t, m.Exists("client:"+forged), "left in place")
}

// TestRefusedKeysExitStatus: keys the store refuses are no conflicts, but
// the run says so and exits 3, on every run that finds them, until an
// operator removes them.
func TestRefusedKeysExitStatus(t *testing.T) {
	m := miniredis.RunT(t)
	url := "redis://" + m.Addr()
	require.NoError(t, m.Set("client:{evil}", "x"))
	m.HSet("session:h", "userId", "u")
	require.NoError(t, m.Set("client:ok", "ok"))

	r := runWith(t, url, "-dry-run")
	assert.Equal(t, exitRefused, r.code, r.stderr)
	assert.Contains(t, r.stdout, "would move 1")
	assert.Contains(t, r.stdout, "2 keys the store refuses left in place")

	for run := range 2 {
		r = runWith(t, url)
		assert.Equal(t, exitRefused, r.code, "run %d: %s", run, r.stderr)
		assert.Contains(t, r.stdout, "moved "+[]string{"1", "0"}[run])
		assert.Contains(t, r.stderr, `refused: "client:{evil}"`)
		assert.Contains(t, r.stderr, `refused: "session:h"`)
	}
	assert.True(t, m.Exists("client:{evil}"))
	assert.True(t, m.Exists("session:h"))
	assert.False(t, m.Exists("tenant:{default}:session:h"))

	m.Del("client:{evil}")
	m.Del("session:h")
	r = runWith(t, url)
	assert.Equal(t, exitOK, r.code, r.stderr)
}

// TestReindex: -reindex lists what an older version's tenant records
// lacked (a suspended tenant, a custom domain, an issuer and audience
// claim), names the tenants that share an issuer and audience and exits 1
// until they are changed, and then exits 0.
func TestReindex(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	url := "redis://" + m.Addr()
	legacy := func(id, status, domain, audience string) {
		rec := fmt.Sprintf(`{"id":%q,"name":%q,"domain":%q,"oidc":{"issuer":"https://idp.example.com","audience":%q},`+
			`"limits":{"maxClients":0,"maxSessions":0,"rateLimit":0},"status":%q}`, id, id, domain, audience, status)
		require.NoError(t, m.Set(keys.Metadata(id), rec))
		_, err := m.ZAdd(keys.Index, 0, id)
		require.NoError(t, err)
		if domain != "" {
			require.NoError(t, m.Set(keys.Domain(domain), id))
		}
	}
	legacy("acme", "suspended", "mcp.acme.com", "seed")
	legacy("gamma", "active", "", "seed") // shares acme's pair
	legacy("beta", "active", "", "seed-beta")

	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	tenants := redisstore.New(rdb, redisstore.Config{}).Tenants()
	_, err := tenants.LookupIssuer(ctx, "https://idp.example.com", "seed-beta")
	require.ErrorIs(t, err, store.ErrTenantNotFound, "an older version claimed no pair")

	r := runWith(t, url, "-reindex")
	assert.Equal(t, exitConflict, r.code, r.stderr)
	assert.Contains(t, r.stderr, `gamma`)
	assert.Contains(t, r.stderr, "change one of each pair")
	id, err := tenants.LookupIssuer(ctx, "https://idp.example.com", "seed-beta")
	require.NoError(t, err)
	assert.Equal(t, "beta", id, "the pairs nobody shares are claimed")
	id, err = tenants.LookupDomain(ctx, "mcp.acme.com")
	require.NoError(t, err)
	assert.Equal(t, "acme", id)

	legacy("gamma", "active", "", "seed-gamma") // the operator changes gamma
	r = runWith(t, url, "-reindex")
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "reindexed")
	id, err = tenants.LookupIssuer(ctx, "https://idp.example.com", "seed-gamma")
	require.NoError(t, err)
	assert.Equal(t, "gamma", id)
}
