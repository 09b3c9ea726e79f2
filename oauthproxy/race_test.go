package oauthproxy_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// tokenGate holds the proxy's requests to a provider's token endpoint
// while armed: each one reports its arrival and waits to be released.
type tokenGate struct {
	base    http.RoundTripper
	mu      sync.Mutex
	armed   bool
	arrived chan chan struct{}
}

func newTokenGate() *tokenGate {
	return &tokenGate{base: http.DefaultTransport, arrived: make(chan chan struct{}, 8)}
}

func (g *tokenGate) arm(on bool) {
	g.mu.Lock()
	g.armed = on
	g.mu.Unlock()
}

func (g *tokenGate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	armed := g.armed
	g.mu.Unlock()
	if armed && r.URL.Path == oidctest.TokenPath {
		release := make(chan struct{})
		g.arrived <- release
		<-release
	}
	return g.base.RoundTrip(r)
}

// TestConcurrentRefreshesOfOneTokenRevokeTheFamily: the client and a
// thief refresh the same token at once. Both pass the proxy's checks
// before either rotation is recorded; the provider honours one. The
// token the other party got from the rotation must not stay alive: two
// parties presented one token, which is a reuse (RFC 9700 section
// 4.14.2), whichever of them the provider answered first.
func TestConcurrentRefreshesOfOneTokenRevokeTheFamily(t *testing.T) {
	gate := newTokenGate()
	_, a, _ := ready(t, byPath, func(c *oauthproxy.Config) { c.Transport = gate })
	ans := a.redeem(a.login(a.h.browser("acme")).Get("code"))
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	rt1 := ans.json(t)["refresh_token"].(string)

	gate.arm(true)
	answers := make(chan *answer, 2)
	for range 2 {
		go func() { answers <- a.refresh(rt1) }()
	}
	first, second := <-gate.arrived, <-gate.arrived
	gate.arm(false)
	close(first)
	winner := <-answers
	close(second)
	loser := <-answers

	require.Equal(t, http.StatusOK, winner.status, "%s", winner.body)
	oauthErr(t, loser, http.StatusBadRequest, "invalid_grant")
	rt2 := winner.json(t)["refresh_token"].(string)
	require.NotEmpty(t, rt2)
	oauthErr(t, a.refresh(rt2), http.StatusBadRequest, "invalid_grant")
}

// TestRefreshRacingARevocation: a thief's refresh of a token is on its
// way to the provider when the client revokes the token (at a provider
// without a revocation endpoint, the proxy alone forgets it). The token
// the thief's refresh produces must not be honoured: the client revoked
// the grant.
func TestRefreshRacingARevocation(t *testing.T) {
	gate := newTokenGate()
	_, a, _ := ready(t, byPath, func(c *oauthproxy.Config) { c.Transport = gate })
	a.h.idps["acme"].SetRevocation(false)
	ans := a.redeem(a.login(a.h.browser("acme")).Get("code"))
	require.Equal(t, http.StatusOK, ans.status, "%s", ans.body)
	rt1 := ans.json(t)["refresh_token"].(string)

	gate.arm(true)
	thief := make(chan *answer, 1)
	go func() { thief <- a.refresh(rt1) }()
	held := <-gate.arrived
	gate.arm(false)
	require.Equal(t, http.StatusOK, a.revoke(rt1).status)
	close(held)
	ans = <-thief

	if ans.status == http.StatusOK {
		rt2, _ := ans.json(t)["refresh_token"].(string)
		if assert.NotEmpty(t, rt2) {
			oauthErr(t, a.refresh(rt2), http.StatusBadRequest, "invalid_grant")
		}
	}
	oauthErr(t, a.refresh(rt1), http.StatusBadRequest, "invalid_grant")
}
