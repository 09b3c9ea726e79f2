package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	assert.Contains(t, r.stderr, "conflict: rate-limit:x")
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
