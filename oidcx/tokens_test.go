package oidcx

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A token verified once is served from memory: the same claims, without
// parsing or a signature check (no allocation at all).
func TestRepeatedTokenServedFromMemory(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	v := newTestVerifier(t, Config{})
	token := idp.token(idp.claims(acme))
	first, err := v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	again, err := v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	assert.Same(t, first, again)
	allocs := testing.AllocsPerRun(100, func() { _, _ = v.Verify(t.Context(), acme, token) })
	assert.Zero(t, allocs)

	off := newTestVerifier(t, Config{TokenCacheEntries: -1})
	_, err = off.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	again, err = off.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	assert.NotSame(t, first, again, "with the cache off, every request verifies")
}

// A remembered token is never served past its exp.
func TestTokenCacheNeverPastExp(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	clk := &testClock{}
	v := newTestVerifier(t, Config{Now: clk.Now})
	c := idp.claims(acme)
	exp := time.Now().Add(2 * time.Minute)
	c["exp"] = exp.Unix()
	token := idp.token(c)
	_, err := v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	sum, s := sumOf(token), settingsOf(acme)
	_, ok := v.tokens.get("acme", sum, s, clk.Now())
	require.True(t, ok)

	_, ok = v.tokens.get("acme", sum, s, time.Unix(exp.Unix(), 0))
	assert.False(t, ok, "not at exp, even within the skew a fresh check allows")
	clk.Advance(2*time.Minute + DefaultSkew + time.Second)
	_, err = v.Verify(t.Context(), acme, token)
	assert.ErrorIs(t, err, ErrTokenExpired)
	assert.Zero(t, v.tokens.len(), "an expired token is dropped")
}

// A token remembered for one tenant is not served for another, nor once
// the tenant's issuer or audience changed.
func TestTokenCacheIsPerTenantAndSettings(t *testing.T) {
	idp, other := newHostileIdP(t), newHostileIdP(t)
	acme, globex := idp.tenant("acme"), idp.tenant("globex")
	v := newTestVerifier(t, Config{})
	token := idp.token(idp.claims(acme))
	_, err := v.Verify(t.Context(), acme, token)
	require.NoError(t, err)

	_, err = v.Verify(t.Context(), globex, token)
	assert.ErrorIs(t, err, ErrInvalidToken, "another tenant of the same provider")

	moved := *acme
	moved.OIDC.Issuer = other.issuer()
	_, err = v.Verify(t.Context(), &moved, token)
	assert.ErrorIs(t, err, ErrInvalidToken, "the issuer changed")

	renamed := *acme
	renamed.OIDC.Audience = "aud-other"
	_, err = v.Verify(t.Context(), &renamed, token)
	assert.ErrorIs(t, err, ErrInvalidToken, "the audience changed")

	jwks := *acme
	jwks.OIDC.JWKSURI = idp.issuer() + "/jwks"
	before := idp.requests("/jwks")
	_, err = v.Verify(t.Context(), &jwks, token)
	require.NoError(t, err)
	assert.Equal(t, before+1, idp.requests("/jwks"), "the JWKS URI changed: verified again with keys fetched from it")

	_, err = v.Verify(t.Context(), acme, token)
	assert.NoError(t, err, "the original settings, still valid")
}

// Invalidate and InvalidateAll drop the tenant's remembered tokens: the Service
// calls Invalidate when a tenant is updated, suspended or deleted.
func TestInvalidateDropsTokens(t *testing.T) {
	idp := newHostileIdP(t)
	globex := idp.tenant("globex")
	v := newTestVerifier(t, Config{})
	for _, tn := range []string{"acme", "globex"} {
		tenant := idp.tenant(tn)
		for range 2 {
			c := idp.claims(tenant)
			c["jti"] = rand.Text()
			_, err := v.Verify(t.Context(), tenant, idp.token(c))
			require.NoError(t, err)
		}
	}
	require.Equal(t, 4, v.tokens.len())
	v.Invalidate("acme")
	v.Invalidate("never-seen")
	assert.Equal(t, 2, v.tokens.len())
	assert.Empty(t, v.tokens.tenants["acme"])
	_, err := v.Verify(t.Context(), globex, idp.token(idp.claims(globex)))
	require.NoError(t, err)
	v.InvalidateAll()
	assert.Zero(t, v.tokens.len())
}

// A token verified with keys the provider has since replaced is checked
// again once the new keys are in, and refused when its key is gone.
func TestTokenCacheFollowsTheKeys(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	clk := &testClock{}
	v := newTestVerifier(t, Config{Now: clk.Now})
	old := idp.token(idp.claims(acme))
	_, err := v.Verify(t.Context(), acme, old)
	require.NoError(t, err)

	// The provider withdraws the key and publishes another; a token with
	// an unknown key ID, once the interval allows, makes the set be
	// fetched anew.
	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	serveJWKS(idp, jwksOf(jose.JSONWebKey{Key: &newKey.PublicKey, KeyID: "k2", Algorithm: "RS256"}))
	clk.Advance(DefaultKeyRefreshInterval)
	_, err = v.Verify(t.Context(), acme, forgedToken(idp.issuer(), acme.OIDC.Audience, "k2"))
	require.ErrorIs(t, err, ErrInvalidToken)
	require.Equal(t, 2, idp.requests("/jwks"))

	_, err = v.Verify(t.Context(), acme, old)
	assert.ErrorIs(t, err, ErrInvalidToken, "its key is no longer published")
}

func TestTokenCacheBounds(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	v := newTestVerifier(t, Config{TokenCacheEntries: 3})
	tokens := make([]string, 5)
	for i := range tokens {
		c := idp.claims(acme)
		c["jti"] = fmt.Sprint(i)
		tokens[i] = idp.token(c)
		_, err := v.Verify(t.Context(), acme, tokens[i])
		require.NoError(t, err)
	}
	assert.Equal(t, 3, v.tokens.len())
	_, ok := v.tokens.get("acme", sumOf(tokens[0]), settingsOf(acme), time.Now())
	assert.False(t, ok, "the least recently used dropped")

	// Tokens of about 4 KiB each, under a bound of 12 KiB.
	small := newTestVerifier(t, Config{TokenCacheBytes: 12 << 10})
	for i := range 5 {
		c := idp.claims(acme)
		c["pad"] = strings.Repeat("p", 3000)
		c["jti"] = fmt.Sprint(i)
		_, err := small.Verify(t.Context(), acme, idp.token(c))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, small.tokens.bytes, int64(12<<10))
	assert.Less(t, small.tokens.len(), 5)
	assert.Positive(t, small.tokens.len())
}

// A token remembered while its tenant's verifier has since been dropped
// from the verifier cache (other tenants took its place) is served only
// while the keys it was checked with are within KeyMaxAge; after that it
// is checked again, against keys fetched anew.
func TestTokenCacheEvictedVerifierKeyMaxAge(t *testing.T) {
	idp := newHostileIdP(t)
	acme, globex := idp.tenant("acme"), idp.tenant("globex")
	clk := &testClock{}
	v := newTestVerifier(t, Config{Now: clk.Now, MaxEntries: 1, KeyMaxAge: 10 * time.Minute})
	token := idp.token(idp.claims(acme))
	_, err := v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), globex, idp.token(idp.claims(globex)))
	require.NoError(t, err)
	_, ok := v.cache.get("acme", settingsOf(acme))
	require.False(t, ok, "acme's verifier dropped for globex's")

	_, err = v.Verify(t.Context(), acme, token)
	require.NoError(t, err, "within KeyMaxAge, served from memory")

	// The provider withdraws the key.
	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	serveJWKS(idp, jwksOf(jose.JSONWebKey{Key: &newKey.PublicKey, KeyID: "k2", Algorithm: "RS256"}))
	clk.Advance(10*time.Minute + time.Second)
	_, err = v.Verify(t.Context(), acme, token)
	assert.ErrorIs(t, err, ErrInvalidToken, "past KeyMaxAge: checked again, its key is gone")
}
