package oauthproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// roundTrips counts the Redis round trips of a client: each command, and
// each pipeline as one.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// numberedProvider answers every token request with new tokens, each
// refresh token a new one (rotation), and every revocation with 200. It
// stands for a provider that answers at once, so that the benchmarks
// measure the proxy.
type numberedProvider struct{ n atomic.Int64 }

func (p *numberedProvider) RoundTrip(r *http.Request) (*http.Response, error) {
	body := "{}"
	if strings.HasSuffix(r.URL.Path, "/token") {
		body = fmt.Sprintf(`{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-%d"}`, p.n.Add(1))
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r,
	}, nil
}

// benchEnv is a proxy on Redis with the fuzz fixtures' tenant and client.
type benchEnv struct {
	p      *Proxy
	rt     *roundTrips
	cookie string
}

func newBenchEnv(b *testing.B, rdb *redis.Client) *benchEnv {
	rt := &roundTrips{}
	rdb.AddHook(rt)
	st := redisstore.New(rdb, redisstore.Config{})
	urls, err := oidcx.PathURLs("https://seed.example.com")
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{
		Clients: st.Clients(), Grants: st.Grants(), URLs: urls, Transport: &numberedProvider{},
		Logger: slog.New(slog.DiscardHandler), RegistrationsPerMinute: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	// The store keeps the clients and grants of tenants it holds only.
	if _, err := st.Tenants().Create(context.Background(), &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}); err != nil &&
		!errors.Is(err, store.ErrExists) {
		b.Fatal(err)
	}
	c := &store.Client{ClientID: fuzzClient, RedirectURIs: []string{fuzzRedirect}, ClientName: "Bench",
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none"}
	if err := st.Clients().Register(context.Background(), "acme", c, 0); err != nil {
		b.Fatal(err)
	}
	return &benchEnv{p: p, rt: rt, cookie: randomToken()}
}

// request returns a request for path with the tenant in its context.
func (e *benchEnv) request(method, path, query, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "https://seed.example.com/acme"+path, rd)
	r.URL.Path, r.URL.RawQuery = path, query
	switch {
	case strings.HasPrefix(body, "{"):
		r.Header.Set("Content-Type", "application/json")
	case body != "":
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.AddCookie(&http.Cookie{Name: "__Host-" + DefaultConsentCookie, Value: e.cookie})
	return r.WithContext(tenant.NewContext(context.Background(), fuzzTenant))
}

func (e *benchEnv) serve(b *testing.B, r *http.Request, want int) {
	w := httptest.NewRecorder()
	e.p.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: status %d, want %d: %s", r.Method, r.URL.Path, w.Code, want, w.Body.String())
	}
}

var authQuery = url.Values{"response_type": {"code"}, "client_id": {fuzzClient}, "redirect_uri": {fuzzRedirect},
	"state": {"xyz"}, "code_challenge": {fuzzChallenge}, "code_challenge_method": {"S256"}}.Encode()

// batch prepares n single-use secrets (transactions, codes, refresh
// tokens) outside the timed part, and does not count their round trips.
type batch struct {
	e       *benchEnv
	make    func(i int) string
	items   []string
	setupRT int64
	next    int
}

func (q *batch) take(b *testing.B) string {
	if len(q.items) == 0 {
		b.StopTimer()
		before := q.e.rt.n.Load()
		for range 256 {
			q.items = append(q.items, q.make(q.next))
			q.next++
		}
		q.setupRT += q.e.rt.n.Load() - before
		b.StartTimer()
	}
	s := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return s
}

// benchEndpoints runs one benchmark per endpoint on rdb and reports the
// Redis round trips of each request as rtt/op.
func benchEndpoints(b *testing.B, rdb *redis.Client) {
	e := newBenchEnv(b, rdb)
	ctx := context.Background()
	run := func(name string, q *batch, op func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			if q != nil {
				q.setupRT = 0
			}
			start := e.rt.n.Load()
			b.ReportAllocs()
			for b.Loop() {
				op(b)
			}
			n := e.rt.n.Load() - start
			if q != nil {
				n -= q.setupRT
			}
			b.ReportMetric(float64(n)/float64(b.N), "rtt/op")
		})
	}

	run("metadata", nil, func(b *testing.B) { e.serve(b, e.request(http.MethodGet, MetadataPath, "", ""), http.StatusOK) })
	reg := `{"client_name":"Bench","redirect_uris":["http://127.0.0.1:5000/cb"],"grant_types":["authorization_code","refresh_token"]}`
	run("register", nil, func(b *testing.B) { e.serve(b, e.request(http.MethodPost, RegisterPath, "", reg), http.StatusCreated) })
	run("authorize", nil, func(b *testing.B) {
		e.serve(b, e.request(http.MethodGet, AuthorizePath, authQuery, ""), http.StatusOK)
	})
	consent := url.Values{"request": {authQuery}, "csrf": {csrfToken(e.cookie, "acme", authQuery)}, "decision": {"approve"}}.Encode()
	run("consent", nil, func(b *testing.B) {
		e.serve(b, e.request(http.MethodPost, AuthorizePath, "", consent), http.StatusSeeOther)
	})

	txs := &batch{e: e, make: func(i int) string {
		state := fmt.Sprintf("state-%d-%d", time.Now().UnixNano(), i)
		tx := transaction{Request: authRequest{ClientID: fuzzClient, RedirectURI: fuzzRedirect, RedirectGiven: true,
			State: "xyz", Challenge: fuzzChallenge, Refresh: true}, Verifier: fuzzVerifier, Browser: browserHash(e.cookie)}
		if err := e.p.putGrant(ctx, "acme", store.GrantTransaction, state, &tx, time.Hour); err != nil {
			b.Fatal(err)
		}
		return state
	}}
	run("callback", txs, func(b *testing.B) {
		q := url.Values{"code": {"upstream-code"}, "state": {txs.take(b)}}.Encode()
		e.serve(b, e.request(http.MethodGet, CallbackPath, q, ""), http.StatusFound)
	})

	codes := &batch{e: e, make: func(i int) string {
		code := fmt.Sprintf("code-%d-%d", time.Now().UnixNano(), i)
		g := codeGrant{ClientID: fuzzClient, RedirectURI: fuzzRedirect, RedirectGiven: true, Challenge: fuzzChallenge, Refresh: true,
			Token: tokenResult{AccessToken: "at", TokenType: "Bearer", RefreshToken: fmt.Sprintf("code-rt-%d-%d", time.Now().UnixNano(), i)}}
		if err := e.p.putGrant(ctx, "acme", store.GrantCode, code, &g, time.Hour); err != nil {
			b.Fatal(err)
		}
		return code
	}}
	run("token_code", codes, func(b *testing.B) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {codes.take(b)}, "client_id": {fuzzClient},
			"redirect_uri": {fuzzRedirect}, "code_verifier": {fuzzVerifier}}.Encode()
		e.serve(b, e.request(http.MethodPost, TokenPath, "", form), http.StatusOK)
	})

	bound := &batch{e: e, make: func(i int) string {
		rt := fmt.Sprintf("bound-%d-%d", time.Now().UnixNano(), i)
		if err := e.p.putGrant(ctx, "acme", store.GrantRefresh, rt, &refreshBinding{ClientID: fuzzClient}, time.Hour); err != nil {
			b.Fatal(err)
		}
		return rt
	}}
	run("token_refresh", bound, func(b *testing.B) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bound.take(b)}, "client_id": {fuzzClient}}.Encode()
		e.serve(b, e.request(http.MethodPost, TokenPath, "", form), http.StatusOK)
	})
	run("revoke", bound, func(b *testing.B) {
		form := url.Values{"token": {bound.take(b)}, "client_id": {fuzzClient}}.Encode()
		e.serve(b, e.request(http.MethodPost, RevokePath, "", form), http.StatusOK)
	})
}

// BenchmarkEndpointsMiniredis counts round trips anywhere, without a
// server; its times are miniredis's, not a network's.
func BenchmarkEndpointsMiniredis(b *testing.B) {
	m := miniredis.RunT(b)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	b.Cleanup(func() { _ = rdb.Close() })
	benchEndpoints(b, rdb)
}

// BenchmarkEndpointsRedis measures each endpoint on the real Redis over
// loopback.
func BenchmarkEndpointsRedis(b *testing.B) {
	benchEndpoints(b, testredis.Standalone(b))
}
