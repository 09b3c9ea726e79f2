package oidcx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

func TestVerifyAccepts(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	v := newVerifier(t, nil)

	for _, alg := range []string{oidctest.RS256, oidctest.ES256} {
		t.Run(alg, func(t *testing.T) {
			claims := idp.Claims(acme.OIDC.Audience, "alice")
			claims["aud"] = []string{"other", acme.OIDC.Audience}
			claims["scope"] = "tools:read tools:call"
			claims["scp"] = []string{"admin"}
			claims["email"] = "alice@example.com"
			c, err := v.Verify(t.Context(), acme, idp.TokenAlg(alg, claims))
			require.NoError(t, err)

			assert.Equal(t, "acme", c.TenantID)
			assert.Equal(t, "alice", c.Subject)
			assert.Equal(t, idp.Issuer(), c.Issuer)
			assert.Equal(t, []string{"other", "aud-acme"}, c.Audience)
			assert.Equal(t, []string{"tools:read", "tools:call", "admin"}, c.Scopes)
			assert.True(t, c.HasScope("tools:call"))
			assert.False(t, c.HasScope("tools"))
			assert.Equal(t, claims["exp"], c.Expiry.Unix())
			assert.Equal(t, claims["iat"], c.IssuedAt.Unix())
			var extra struct {
				Email string `json:"email"`
			}
			require.NoError(t, c.Decode(&extra))
			assert.Equal(t, "alice@example.com", extra.Email)
		})
	}
}

func TestVerifyScpAsString(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	v := newVerifier(t, nil)
	claims := idp.Claims(acme.OIDC.Audience, "alice")
	claims["scp"] = "a b"
	c, err := v.Verify(t.Context(), acme, idp.Token(claims))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, c.Scopes)
}

// A token of tenant A is refused by tenant B whichever part of it does not
// belong to B.
func TestVerifyCrossTenant(t *testing.T) {
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	a, b := newTenant("tenant-a", idpA), newTenant("tenant-b", idpB)
	// sameIdP shares A's provider but expects its own audience.
	sameIdP := newTenant("tenant-c", idpA)
	v := newVerifier(t, nil)

	tokenA := tokenFor(idpA, a, "alice")
	_, err := v.Verify(t.Context(), a, tokenA)
	require.NoError(t, err, "A's own token")

	tests := []struct {
		name   string
		tenant *tenant.Tenant
		token  string
	}{
		{"other issuer", b, tokenA},
		{"other audience", sameIdP, tokenA},
		// Signed by A's key, but naming B's issuer and audience, and even a
		// key ID that B publishes: B's key refuses the signature.
		{"other keys", b, idpA.Token(idpB.Claims(b.OIDC.Audience, "alice"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.tenant, tt.token)
			assert.ErrorIs(t, err, oidcx.ErrInvalidToken)
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	v := newVerifier(t, nil)
	now := time.Now()

	with := func(change func(map[string]any)) string {
		c := idp.Claims(acme.OIDC.Audience, "alice")
		change(c)
		return idp.Token(c)
	}
	tests := []struct {
		name  string
		token string
		want  error // nil means accepted
	}{
		{"expired beyond skew", with(func(c map[string]any) { c["exp"] = now.Add(-31 * time.Second).Unix() }), oidcx.ErrTokenExpired},
		{"expired within skew", with(func(c map[string]any) { c["exp"] = now.Add(-20 * time.Second).Unix() }), nil},
		{"no exp", with(func(c map[string]any) { delete(c, "exp") }), oidcx.ErrTokenExpired},
		{"nbf beyond skew", with(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }), oidcx.ErrTokenNotYetValid},
		{"nbf within skew", with(func(c map[string]any) { c["nbf"] = now.Add(20 * time.Second).Unix() }), nil},
		{"iat in the future", with(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), oidcx.ErrTokenNotYetValid},
		{"no sub", with(func(c map[string]any) { delete(c, "sub") }), oidcx.ErrInvalidToken},
		{"empty sub", with(func(c map[string]any) { c["sub"] = "" }), oidcx.ErrInvalidToken},
		{"alg none", idp.NoneToken(idp.Claims(acme.OIDC.Audience, "alice")), oidcx.ErrInvalidToken},
		{"HS256 with the public key", idp.HS256Token(idp.Claims(acme.OIDC.Audience, "alice")), oidcx.ErrInvalidToken},
		{"unknown kid", idp.TokenWithKeyID("forged", idp.Claims(acme.OIDC.Audience, "alice")), oidcx.ErrInvalidToken},
		{"tampered payload", tamper(idp.Token(idp.Claims(acme.OIDC.Audience, "alice"))), oidcx.ErrInvalidToken},
		{"JWS JSON serialization", jsonSerialization(idp.Token(idp.Claims(acme.OIDC.Audience, "alice"))), oidcx.ErrInvalidToken},
		{"malformed", "not-a-jwt", oidcx.ErrInvalidToken},
		{"three empty parts", "..", oidcx.ErrInvalidToken},
		{"empty", "", oidcx.ErrInvalidToken},
		{"oversized", strings.Repeat("a", oidcx.DefaultMaxTokenSize+1), oidcx.ErrTokenTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), acme, tt.token)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "alice", c.Subject)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, c)
		})
	}
}

// jsonSerialization re-encodes a valid compact token in the JWS JSON
// serialization (RFC 7515 section 7.2.2), which a JWT never uses.
func jsonSerialization(token string) string {
	parts := strings.Split(token, ".")
	return `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`
}

// tamper changes the subject of a signed token without re-signing it.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	parts[1] = strings.Replace(parts[1], parts[1][:4], "eyJz", 1)
	return strings.Join(parts, ".")
}

func TestVerifyNotConfigured(t *testing.T) {
	v := newVerifier(t, nil)
	_, err := v.Verify(t.Context(), &tenant.Tenant{ID: "bare"}, "a.b.c")
	assert.ErrorIs(t, err, oidcx.ErrNotConfigured)
}

func TestVerifyWithJWKSURISkipsDiscovery(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	acme.OIDC.JWKSURI = idp.JWKSURL()
	v := newVerifier(t, nil)
	_, err := v.Verify(t.Context(), acme, tokenFor(idp, acme, "alice"))
	require.NoError(t, err)
	assert.Equal(t, 0, idp.DiscoveryRequests())
	assert.Equal(t, 1, idp.JWKSRequests())
}

// After a rotation the new key is fetched once, and only once the refresh
// interval has passed since the last fetch.
func TestKeyRotation(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	clk := &clock{}
	v := newVerifier(t, clk)

	old := tokenFor(idp, acme, "alice")
	_, err := v.Verify(t.Context(), acme, old)
	require.NoError(t, err)
	require.Equal(t, 1, idp.JWKSRequests())

	idp.Rotate()
	rotated := tokenFor(idp, acme, "alice")

	_, err = v.Verify(t.Context(), acme, rotated)
	assert.ErrorIs(t, err, oidcx.ErrInvalidToken, "within the refresh interval the new key is not fetched")
	assert.Equal(t, 1, idp.JWKSRequests())

	clk.Advance(oidcx.DefaultKeyRefreshInterval)
	_, err = v.Verify(t.Context(), acme, rotated)
	require.NoError(t, err, "accepted after one refetch")
	assert.Equal(t, 2, idp.JWKSRequests())

	_, err = v.Verify(t.Context(), acme, old)
	require.NoError(t, err, "the old key is still published")
	_, err = v.Verify(t.Context(), acme, rotated)
	require.NoError(t, err)
	assert.Equal(t, 2, idp.JWKSRequests(), "known keys need no fetch")
}

// Keys older than KeyMaxAge are fetched again, so a withdrawn key stops
// verifying even though no token ever names an unknown key.
func TestWithdrawnKeyExpires(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	clk := &clock{}
	v := newVerifier(t, clk)

	claims := idp.Claims(acme.OIDC.Audience, "alice")
	claims["exp"] = time.Now().Add(3 * time.Hour).Unix()
	old := idp.Token(claims)
	_, err := v.Verify(t.Context(), acme, old)
	require.NoError(t, err)

	idp.Rotate()
	idp.DropOldKeys()
	clk.Advance(oidcx.DefaultKeyMaxAge)
	// This verification still uses the cached keys and starts a refresh
	// in the background.
	_, err = v.Verify(t.Context(), acme, old)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := v.Verify(t.Context(), acme, old)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 2, idp.JWKSRequests())
}

// A flood of tokens with random unknown key IDs makes at most one JWKS
// fetch per tenant per refresh interval.
func TestUnknownKeyIDFlood(t *testing.T) {
	idps := []*oidctest.Server{oidctest.New(t), oidctest.New(t)}
	tenants := []*tenant.Tenant{newTenant("tenant-a", idps[0]), newTenant("tenant-b", idps[1])}
	clk := &clock{}
	v := newVerifier(t, clk)
	for i, tn := range tenants {
		_, err := v.Verify(t.Context(), tn, tokenFor(idps[i], tn, "alice"))
		require.NoError(t, err)
	}

	const flood = 200
	forged := make([][]string, len(tenants))
	for i, tn := range tenants {
		for j := range flood {
			forged[i] = append(forged[i], idps[i].TokenWithKeyID(fmt.Sprintf("kid-%d", j), idps[i].Claims(tn.OIDC.Audience, "mallory")))
		}
	}
	run := func() {
		var wg sync.WaitGroup
		for i, tn := range tenants {
			for _, tok := range forged[i] {
				wg.Go(func() {
					_, err := v.Verify(context.Background(), tn, tok)
					assert.ErrorIs(t, err, oidcx.ErrInvalidToken)
				})
			}
		}
		wg.Wait()
	}

	run()
	for _, idp := range idps {
		assert.Equal(t, 1, idp.JWKSRequests(), "within the interval: no fetch at all")
	}
	clk.Advance(oidcx.DefaultKeyRefreshInterval)
	run()
	for _, idp := range idps {
		assert.Equal(t, 2, idp.JWKSRequests(), "after the interval: one fetch per tenant")
	}
}

// Concurrent first uses of a tenant share one discovery and one JWKS fetch.
func TestConcurrentFirstUse(t *testing.T) {
	idp := oidctest.New(t)
	idp.SetDelay(100 * time.Millisecond) // keep the build in flight while the others arrive
	acme := newTenant("acme", idp)
	v := newVerifier(t, nil)
	token := tokenFor(idp, acme, "alice")

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), acme, token)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, idp.DiscoveryRequests())
	assert.Equal(t, 1, idp.JWKSRequests())
}

// A caller that gives up while the verifier is being built does not fail
// the callers waiting on the same build.
func TestCanceledCallerDoesNotFailOthers(t *testing.T) {
	idp := oidctest.New(t)
	idp.SetDelay(300 * time.Millisecond)
	acme := newTenant("acme", idp)
	v := newVerifier(t, nil)
	token := tokenFor(idp, acme, "alice")

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, acme, token)
		first <- err
	}()
	require.Eventually(t, func() bool { return idp.DiscoveryRequests() == 1 }, time.Second, time.Millisecond)
	second := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), acme, token)
		second <- err
	}()
	cancel()
	assert.ErrorIs(t, <-first, context.Canceled)
	assert.NoError(t, <-second)
	assert.Equal(t, 1, idp.DiscoveryRequests())
}

// A tenant whose provider is slow or down does not slow another tenant.
func TestSlowProviderIsolation(t *testing.T) {
	slow, down, fine := oidctest.New(t), oidctest.New(t), oidctest.New(t)
	slow.SetDelay(3 * time.Second)
	down.Close()
	a, d, b := newTenant("tenant-a", slow), newTenant("tenant-d", down), newTenant("tenant-b", fine)
	v, err := oidcx.New(oidcx.Config{FetchTimeout: 4 * time.Second, InsecureAllowLoopback: true})
	require.NoError(t, err)
	tokenB := tokenFor(fine, b, "bob")
	_, err = v.Verify(t.Context(), b, tokenB) // warm B
	require.NoError(t, err)

	tokenA, tokenD := tokenFor(slow, a, "alice"), tokenFor(down, d, "dave")
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), a, tokenA)
			assert.ErrorIs(t, err, oidcx.ErrProviderUnavailable)
		})
		wg.Go(func() {
			_, err := v.Verify(context.Background(), d, tokenD)
			assert.ErrorIs(t, err, oidcx.ErrProviderUnavailable)
		})
	}
	// Let A's build start and hold whatever it holds.
	require.Eventually(t, func() bool { return slow.DiscoveryRequests() == 1 }, time.Second, time.Millisecond)

	start := time.Now()
	for range 100 {
		_, err := v.Verify(t.Context(), b, tokenB)
		require.NoError(t, err)
	}
	// A new tenant on a working provider is built meanwhile, too.
	c := newTenant("tenant-c", fine)
	_, err = v.Verify(t.Context(), c, tokenFor(fine, c, "carol"))
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Second, "B waited for A's provider")
	wg.Wait() // A's build times out after FetchTimeout
}

// A failed build is not retried before the back-off has passed, and the
// back-off doubles with each failure.
func TestDiscoveryBackoff(t *testing.T) {
	idp := oidctest.New(t)
	idp.SetDown(true)
	acme := newTenant("acme", idp)
	clk := &clock{}
	v := newVerifier(t, clk)
	token := tokenFor(idp, acme, "alice")

	_, err := v.Verify(t.Context(), acme, token)
	var ue *oidcx.UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.ErrorIs(t, err, oidcx.ErrProviderUnavailable)
	assert.Equal(t, "acme", ue.TenantID)
	assert.WithinDuration(t, clk.Now().Add(oidcx.DefaultBackoffMin), ue.RetryAt, 100*time.Millisecond)
	require.Equal(t, 1, idp.DiscoveryRequests())

	_, err = v.Verify(t.Context(), acme, token)
	assert.ErrorIs(t, err, oidcx.ErrProviderUnavailable)
	assert.Equal(t, 1, idp.DiscoveryRequests(), "within the back-off the provider is not asked")

	clk.Advance(oidcx.DefaultBackoffMin)
	_, err = v.Verify(t.Context(), acme, token)
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 2, idp.DiscoveryRequests())
	assert.WithinDuration(t, clk.Now().Add(2*oidcx.DefaultBackoffMin), ue.RetryAt, 100*time.Millisecond, "doubled")

	idp.SetDown(false)
	clk.Advance(oidcx.DefaultBackoffMin)
	_, err = v.Verify(t.Context(), acme, token)
	assert.ErrorIs(t, err, oidcx.ErrProviderUnavailable, "still backing off")
	clk.Advance(oidcx.DefaultBackoffMin)
	_, err = v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	assert.Equal(t, 3, idp.DiscoveryRequests())
}

// A changed issuer takes effect on the next request, without Invalidate.
func TestChangedIssuerTakesEffect(t *testing.T) {
	oldIdP, newIdP := oidctest.New(t), oidctest.New(t)
	v := newVerifier(t, nil)
	before := newTenant("acme", oldIdP)
	oldToken := tokenFor(oldIdP, before, "alice")
	_, err := v.Verify(t.Context(), before, oldToken)
	require.NoError(t, err)

	after := *before // as a store would hand out the PATCHed record
	after.OIDC.Issuer = newIdP.Issuer()
	_, err = v.Verify(t.Context(), &after, oldToken)
	assert.ErrorIs(t, err, oidcx.ErrInvalidToken)
	_, err = v.Verify(t.Context(), &after, tokenFor(newIdP, &after, "alice"))
	assert.NoError(t, err)
	assert.Equal(t, 1, newIdP.DiscoveryRequests())
}

func TestInvalidate(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	v := newVerifier(t, nil)
	token := tokenFor(idp, acme, "alice")
	_, err := v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	require.Equal(t, 1, idp.DiscoveryRequests())

	v.Invalidate("acme")
	v.Invalidate("never-seen")
	_, err = v.Verify(t.Context(), acme, token)
	require.NoError(t, err)
	assert.Equal(t, 2, idp.DiscoveryRequests())
}

func TestInvalidateAll(t *testing.T) {
	idp := oidctest.New(t)
	a, b := newTenant("tenant-a", idp), newTenant("tenant-b", idp)
	v := newVerifier(t, nil)
	for _, tn := range []*tenant.Tenant{a, b} {
		_, err := v.Verify(t.Context(), tn, tokenFor(idp, tn, "alice"))
		require.NoError(t, err)
	}
	require.Equal(t, 2, idp.DiscoveryRequests())
	v.InvalidateAll()
	for _, tn := range []*tenant.Tenant{a, b} {
		_, err := v.Verify(t.Context(), tn, tokenFor(idp, tn, "alice"))
		require.NoError(t, err)
	}
	assert.Equal(t, 4, idp.DiscoveryRequests())
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	acme.OIDC.Issuer = idp.Issuer() + "/" // discovery answers without the slash
	v := newVerifier(t, nil)
	claims := idp.Claims(acme.OIDC.Audience, "alice")
	claims["iss"] = acme.OIDC.Issuer
	_, err := v.Verify(t.Context(), acme, idp.Token(claims))
	assert.ErrorIs(t, err, oidcx.ErrProviderUnavailable)
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]oidcx.Config{
		"negative skew":       {Skew: -time.Second},
		"negative entries":    {MaxEntries: -1},
		"backoff max < min":   {BackoffMin: time.Minute, BackoffMax: time.Second},
		"symmetric algorithm": {Algorithms: []string{"HS256"}},
		"none":                {Algorithms: []string{"none"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := oidcx.New(cfg)
			assert.Error(t, err)
		})
	}
	_, err := oidcx.New(oidcx.Config{KeyMaxAge: -time.Second})
	assert.EqualError(t, err, "oidcx: Config.KeyMaxAge must not be negative")
}

func TestAlgorithmsRestrict(t *testing.T) {
	idp := oidctest.New(t)
	acme := newTenant("acme", idp)
	v, err := oidcx.New(oidcx.Config{Algorithms: []string{oidctest.ES256}, InsecureAllowLoopback: true})
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), acme, idp.TokenAlg(oidctest.ES256, idp.Claims(acme.OIDC.Audience, "alice")))
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), acme, tokenFor(idp, acme, "alice"))
	assert.True(t, errors.Is(err, oidcx.ErrInvalidToken), "RS256 not allowed: %v", err)
}

// A token that could never be accepted is refused without asking the
// provider, also while the provider is down: before the fix such tokens
// waited for discovery and got a 503 instead of a 401.
func TestHopelessTokensFetchNothing(t *testing.T) {
	idp := oidctest.New(t)
	idp.SetDown(true)
	acme := newTenant("acme", idp)
	v := newVerifier(t, nil)

	with := func(change func(map[string]any)) string {
		c := idp.Claims(acme.OIDC.Audience, "alice")
		change(c)
		return idp.Token(c)
	}
	for name, token := range map[string]string{
		"not a JWT":        "not-a-jwt",
		"three junk parts": "a.b.c",
		"alg none":         idp.NoneToken(idp.Claims(acme.OIDC.Audience, "alice")),
		"HS256":            idp.HS256Token(idp.Claims(acme.OIDC.Audience, "alice")),
		"exp a string":     with(func(c map[string]any) { c["exp"] = fmt.Sprint(time.Now().Add(time.Hour).Unix()) }),
		"expired":          with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }),
		"other issuer":     with(func(c map[string]any) { c["iss"] = "https://evil.example.com" }),
		"other audience":   with(func(c map[string]any) { c["aud"] = "other" }),
		"JSON":             jsonSerialization(tokenFor(idp, acme, "alice")),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), acme, token)
			assert.ErrorIs(t, err, oidcx.ErrInvalidToken)
			assert.NotErrorIs(t, err, oidcx.ErrProviderUnavailable)
		})
	}
	assert.Equal(t, 0, idp.DiscoveryRequests())
	assert.Equal(t, 0, idp.JWKSRequests())

	// A well-formed token of the tenant's provider does need the keys.
	_, err := v.Verify(t.Context(), acme, tokenFor(idp, acme, "alice"))
	assert.ErrorIs(t, err, oidcx.ErrProviderUnavailable)
}
