package oidcx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// handlerTransport serves requests with a handler in-process, so that a
// test can make tens of thousands of provider requests without sockets.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

// manyProviders serves one provider per tenant under
// https://idp.example/t/<id>, and counts each tenant's requests.
type manyProviders struct {
	mu        sync.Mutex
	discovery map[string]int
	jwks      map[string]int
	body      []byte
}

func newManyProviders() *manyProviders {
	body, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &testKey().PublicKey, KeyID: "k1", Algorithm: "RS256"}}})
	if err != nil {
		panic(err)
	}
	return &manyProviders{discovery: map[string]int{}, jwks: map[string]int{}, body: body}
}

func (p *manyProviders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/t/")
	id, path, _ := strings.Cut(rest, "/")
	issuer := "https://idp.example/t/" + id
	p.mu.Lock()
	defer p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch path {
	case ".well-known/openid-configuration":
		p.discovery[id]++
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/jwks"})
	case "jwks":
		p.jwks[id]++
		_, _ = w.Write(p.body)
	default:
		http.NotFound(w, r)
	}
}

func (p *manyProviders) tenant(i int) *tenant.Tenant {
	id := fmt.Sprintf("t%05d", i)
	return &tenant.Tenant{ID: id, OIDC: tenant.OIDC{Issuer: "https://idp.example/t/" + id, Audience: "aud"}}
}

// max returns the most requests any one tenant made, and the total.
func (p *manyProviders) max() (discovery, jwks, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.discovery {
		discovery = max(discovery, n)
		total += n
	}
	for _, n := range p.jwks {
		jwks = max(jwks, n)
		total += n
	}
	return discovery, jwks, total
}

// testClock is a clock the test moves by hand.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// rotateForged sends one forged token (unknown key ID) to each of n
// tenants per round, rounds times, the clock moving step after each round,
// and returns the most discovery and JWKS requests any tenant's provider
// got.
func rotateForged(t *testing.T, n, maxEntries, rounds int, step time.Duration) (discovery, jwks, total int) {
	p := newManyProviders()
	clk := &testClock{}
	v := newTestVerifier(t, Config{Transport: handlerTransport{p}, MaxEntries: maxEntries, Now: clk.Now})
	tenants := make([]*tenant.Tenant, n)
	tokens := make([]string, n)
	for i := range tenants {
		tenants[i] = p.tenant(i)
		tokens[i] = forgedToken(tenants[i].OIDC.Issuer, "aud", "forged")
	}
	for range rounds {
		for i, tn := range tenants {
			_, err := v.Verify(t.Context(), tn, tokens[i])
			require.Error(t, err)
		}
		clk.Advance(step)
	}
	return p.max()
}

// Forged tokens rotated over more tenants than the verifier cache holds
// fetch no more than they would over a few: each tenant's provider is
// asked at most once per refresh interval, although every request finds
// its verifier dropped from the cache. Before the limits outlived the
// cache, each such request made a discovery and a JWKS request.
func TestForgedTokensOverMoreTenantsThanTheCache(t *testing.T) {
	const minutes = 3
	rounds := minutes * 6 // one request per tenant every 10 seconds
	discovery, jwks, _ := rotateForged(t, 1200, 1000, rounds, 10*time.Second)
	perInterval := minutes * int(time.Minute/DefaultKeyRefreshInterval)
	assert.LessOrEqual(t, discovery, perInterval, "discovery requests of one tenant in %d minutes", minutes)
	assert.LessOrEqual(t, jwks, perInterval, "JWKS requests of one tenant in %d minutes", minutes)
}

// TestForgedTokensFigure gives the figure: fetches per minute per tenant
// under forged tokens rotated over 5,000 tenants with the default cache
// of 1,000 verifiers.
func TestForgedTokensFigure(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("5,000 tenants: a figure, run without -race and -short")
	}
	const minutes, tenants = 3, 5000
	discovery, jwks, total := rotateForged(t, tenants, DefaultMaxEntries, minutes*6, 10*time.Second)
	t.Logf("%d tenants, %d forged tokens each per minute: at most %.1f discovery and %.1f JWKS requests per minute per tenant; %.0f requests per minute in all",
		tenants, 6, float64(discovery)/minutes, float64(jwks)/minutes, float64(total)/minutes)
	perInterval := minutes * int(time.Minute/DefaultKeyRefreshInterval)
	assert.LessOrEqual(t, discovery, perInterval)
	assert.LessOrEqual(t, jwks, perInterval)
}

// The limits table holds at most MaxTracked tenants; when all of them
// fetched within the horizon, a further tenant is not fetched for until
// one has aged out.
func TestLimitsAreBounded(t *testing.T) {
	p := newManyProviders()
	clk := &testClock{}
	v := newTestVerifier(t, Config{Transport: handlerTransport{p}, MaxEntries: 5, MaxTracked: 10, Now: clk.Now})
	verify := func(i int) error {
		tn := p.tenant(i)
		_, err := v.Verify(t.Context(), tn, forgedToken(tn.OIDC.Issuer, "aud", "forged"))
		return err
	}
	for i := range 10 {
		assert.ErrorIs(t, verify(i), ErrInvalidToken)
	}
	assert.Equal(t, 10, v.limits.len())
	err := verify(10)
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue, "an eleventh tenant within the horizon")
	assert.ErrorIs(t, err, errTooManyTracked)
	_, _, total := p.max()
	assert.Equal(t, 20, total, "ten discovery and ten JWKS requests")

	clk.Advance(max(DefaultKeyRefreshInterval, DefaultBackoffMax))
	assert.ErrorIs(t, verify(10), ErrInvalidToken, "fetched once the oldest aged out")
	assert.Equal(t, 10, v.limits.len())
}

// A tenant's state is kept for one fingerprint of its settings: changed
// settings start afresh.
func TestChangedSettingsStartAfresh(t *testing.T) {
	l := newLimits(10, time.Minute, time.Minute)
	now := time.Now()
	a := settings{issuer: "https://a", audience: "x"}.fingerprint()
	b := settings{issuer: "https://b", audience: "x"}.fingerprint()
	st, _, err := l.startBuild("acme", a, now)
	require.NoError(t, err)
	l.finishBuild(st, now, nil, func(int) time.Duration { return time.Second }, now)
	_, _, err = l.startBuild("acme", a, now.Add(time.Second))
	assert.ErrorIs(t, err, errRecentlyFetched)
	_, _, err = l.startBuild("acme", b, now.Add(time.Second))
	assert.NoError(t, err, "new settings, new state")
}

// BenchmarkLimitsMemory reports the heap one tracked tenant costs.
func BenchmarkLimitsMemory(b *testing.B) {
	const n = DefaultMaxTracked
	for b.Loop() {
		before := heapInUse()
		l := newLimits(n, time.Minute, time.Minute)
		now := time.Now()
		for i := range n {
			id := fmt.Sprintf("tenant-%057d", i) // the longest tenant ID: 63 bytes
			l.startFetch(id, settings{issuer: id}.fingerprint(), now)
		}
		b.ReportMetric(float64(heapInUse()-before)/n, "B/tenant")
		runtimeKeepAlive(l)
	}
}
