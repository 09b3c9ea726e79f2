package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// adminKey is the admin API key the server is started with.
const adminKey = "load-admin-key"

// encryptionKey is the server's TENANT_ENCRYPTION_KEY, which seals the
// secrets of the tenants' confidential upstream clients.
const encryptionKey = "6c6f6164746573742d6b65792d6f662d33322d62797465732d2d2d2d2d2d2d2d"

// How a tenant's OAuth authorization server reaches its provider (the
// upstream client of its settings, oidc.clientId).
const (
	// upstreamNone: no upstream client. The tenant's authorization
	// server only registers clients (authorize is 404), and its
	// protected-resource metadata names its provider directly.
	upstreamNone = iota
	// upstreamConfidential: a client with a secret (sealed by the
	// server), the provider's endpoints found by discovery.
	upstreamConfidential
	// upstreamPublic: a client without a secret, the provider's
	// endpoints named in the tenant's settings.
	upstreamPublic
)

// loadTenant is one tenant of the run, with what its answers must name.
type loadTenant struct {
	id       string
	idp      *oidctest.Server
	issuer   string
	upstream int
	token    string // a valid access token for it, subject "user-<id>"
	// loginSubject is the user its provider logs in, the subject of the
	// tokens a login through its authorization server ends with.
	loginSubject string
}

// proxied reports whether the tenant's OAuth authorization server is on.
func (t loadTenant) proxied() bool { return t.upstream != upstreamNone }

// upstreamClient is the tenant's client at its provider: the provider
// must accept the tenant's callback as its redirect URI and issue tokens
// with the tenant's audience.
func (t loadTenant) upstreamClient(base string) oidctest.Client {
	c := oidctest.Client{ID: "proxy-" + t.id, Audience: "aud-" + t.id, RedirectURIs: []string{base + "/" + t.id + "/oauth/callback"}}
	if t.upstream == upstreamConfidential {
		c.Secret = "secret-" + t.id
	}
	return c
}

// mix is the share, in percent, of each kind of work a worker picks.
type mix struct{ meta, whoami, login int }

// client sends the requests of one run and checks their answers.
type client struct {
	base string // http://127.0.0.1:port, the server's PUBLIC_URL
	http *http.Client
	rec  *recorder
	regs *registrations
}

func newClient(base string, rec *recorder, conns int) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	return &client{base: base, rec: rec, regs: newRegistrations(), http: &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// makeTenant returns tenant i's definition, trusting idp, whose logins
// sign in subject. Of every four tenants, two have a confidential
// upstream client, one a public one, and one none.
func makeTenant(i int, idp *oidctest.Server, subject string) loadTenant {
	id := fmt.Sprintf("t%04d", i)
	t := loadTenant{id: id, idp: idp, issuer: idp.Issuer(), loginSubject: subject}
	switch i % 4 {
	case 0, 2:
		t.upstream = upstreamConfidential
	case 1:
		t.upstream = upstreamPublic
	}
	t.token = idp.Token(idp.Claims("aud-"+id, "user-"+id))
	return t
}

// definition is the tenant as the admin API creates it.
func (t loadTenant) definition() map[string]any {
	oidc := map[string]any{"issuer": t.issuer, "audience": "aud-" + t.id}
	switch t.upstream {
	case upstreamConfidential:
		oidc["clientId"], oidc["clientSecret"] = "proxy-"+t.id, "secret-"+t.id
	case upstreamPublic:
		oidc["clientId"] = "proxy-" + t.id
		oidc["authorizationUrl"], oidc["tokenUrl"], oidc["revocationUrl"] = t.idp.AuthorizeURL(), t.idp.TokenURL(), t.idp.RevocationURL()
	}
	return map[string]any{
		"id": t.id, "name": "Tenant " + t.id, "oidc": oidc,
		"limits": map[string]int{"maxClients": 1000, "maxSessions": 100, "rateLimit": 6000},
	}
}

func (c *client) createTenants(ctx context.Context, ts []loadTenant) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(ts))
	next := make(chan loadTenant)
	for range 8 {
		wg.Go(func() {
			for t := range next {
				if st, b, err := c.admin(ctx, http.MethodPost, "", t.definition()); err != nil || st != http.StatusCreated {
					errs <- fmt.Errorf("loadtest: creating %s: %d %s %v", t.id, st, b, err)
				}
			}
		})
	}
	for _, t := range ts {
		next <- t
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

// admin calls the admin API at /admin/tenants<path>.
func (c *client) admin(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/admin/tenants"+strings.TrimSuffix(path, "/"), r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Admin-API-Key", adminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// worker sends work until ctx is done, to a tenant picked at random among
// ts for every piece of work, and records the answers in batches.
type worker struct {
	c      *client
	ts     []loadTenant
	mix    mix
	victim bool
	pace   time.Duration // wait between pieces of work, 0 for none
	rnd    *rand.Rand
	buf    []event
	// clients collects the client IDs registered (answered 201), by
	// tenant, for the checks that nothing was lost.
	clients map[string][]string
}

func (w *worker) run(ctx context.Context) {
	defer w.flush()
	for ctx.Err() == nil {
		t := w.ts[w.rnd.IntN(len(w.ts))]
		switch n := w.rnd.IntN(100); {
		case n < w.mix.meta:
			w.metadata(ctx, t)
		case n < w.mix.meta+w.mix.whoami:
			w.session(ctx, t, t.token, "user-"+t.id)
		default:
			w.login(ctx, t)
		}
		if len(w.buf) >= 256 {
			w.flush()
		}
		if w.pace > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(w.pace):
			}
		}
	}
}

func (w *worker) flush() {
	w.c.rec.add(w.buf)
	w.buf = w.buf[:0]
}

// answer is a response with its body read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// check judges an answer: ok when it is one of the expected answers, and
// leak, when not empty, says how it carries another tenant's data. A
// refusal (404, 429, 503) is never a leak: at worst it is unexpected.
type check func(answer) (ok bool, leak string)

// expect accepts the answers with one of the statuses and finds no leak
// in any answer.
func expect(statuses ...int) check {
	return func(a answer) (bool, string) { return slices.Contains(statuses, a.status), "" }
}

// do sends req and records it as kind, judged by judge; a leak is
// recorded as a cross-tenant answer. It returns false when there was no
// answer, or when ctx ended first (the run is over: nothing is recorded).
func (w *worker) do(ctx context.Context, kind string, req *http.Request, judge check) (answer, bool) {
	at := w.c.rec.now()
	resp, err := w.c.http.Do(req)
	var a answer
	if err == nil {
		a.status, a.header = resp.StatusCode, resp.Header
		a.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		return a, false
	}
	lat := w.c.rec.now() - at
	if err != nil {
		w.c.rec.transportError(err)
		w.buf = append(w.buf, event{at: at, lat: lat, kind: kind, victim: w.victim})
		return a, false
	}
	// The server's refusals must say when to come back; the test
	// provider's need not.
	if kind != kindIdP && (a.status == http.StatusServiceUnavailable || a.status == http.StatusTooManyRequests) && a.header.Get("Retry-After") == "" {
		w.c.rec.missingRetryAfter(kind)
	}
	ok, leak := judge(a)
	if leak != "" {
		w.c.rec.cross("%s", leak)
		ok = false
	}
	w.buf = append(w.buf, event{at: at, lat: lat, kind: kind, status: a.status, ok: ok, victim: w.victim})
	return a, true
}

func (w *worker) newRequest(ctx context.Context, method, url string, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		panic(err) // the URLs are built here, from valid parts
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// metadataURL is the tenant's protected-resource metadata in path mode.
func (c *client) metadataURL(id string) string {
	return c.base + "/.well-known/oauth-protected-resource/" + id + "/mcp"
}

// challenge judges a 401 of the tenant's MCP endpoint: its challenge
// must name the tenant's own metadata; naming another's is a leak.
func (w *worker) challenge(t loadTenant, a answer) string {
	h := a.header.Get("WWW-Authenticate")
	if a.status == http.StatusUnauthorized && strings.Contains(h, `resource_metadata="`) &&
		!strings.Contains(h, `resource_metadata="`+w.c.metadataURL(t.id)+`"`) {
		return fmt.Sprintf("%s: 401 challenge %q", t.id, h)
	}
	return ""
}

// metadata fetches the tenant's protected-resource metadata and checks
// that it describes this tenant: its MCP URL, and as its authorization
// server its own (its base URL) when its upstream client is set, its
// provider otherwise.
func (w *worker) metadata(ctx context.Context, t loadTenant) {
	want := []string{t.issuer}
	if t.proxied() {
		want = []string{w.c.base + "/" + t.id}
	}
	w.do(ctx, kindMeta, w.newRequest(ctx, http.MethodGet, w.c.metadataURL(t.id), ""), func(a answer) (bool, string) {
		var m struct {
			Resource string   `json:"resource"`
			Servers  []string `json:"authorization_servers"`
		}
		if a.status != http.StatusOK || json.Unmarshal(a.body, &m) != nil {
			return false, ""
		}
		if m.Resource != w.c.base+"/"+t.id+"/mcp" || !slices.Equal(m.Servers, want) {
			return false, fmt.Sprintf("%s: metadata %s", t.id, a.body)
		}
		return true, ""
	})
}

const (
	initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"loadtest","version":"1"}}}`
	initializedMsg = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	whoamiCall     = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
)

// mcpRequest is a JSON-RPC request of MCP's Streamable HTTP transport to
// the tenant's endpoint, with a token and a session.
func (w *worker) mcpRequest(ctx context.Context, t loadTenant, token, method, session, body string) *http.Request {
	req := w.newRequest(ctx, method, w.c.base+"/"+t.id+"/mcp", body)
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	}
	return req
}

// session opens an MCP session at the tenant with token, calls whoami,
// checks that it names this tenant and subject, and ends the session.
func (w *worker) session(ctx context.Context, t loadTenant, token, subject string) {
	a, ok := w.do(ctx, kindInit, w.mcpRequest(ctx, t, token, http.MethodPost, "", initializeBody), func(a answer) (bool, string) {
		return a.status == http.StatusOK && a.header.Get("Mcp-Session-Id") != "", w.challenge(t, a)
	})
	session := a.header.Get("Mcp-Session-Id")
	if !ok || a.status != http.StatusOK || session == "" {
		return
	}
	two := func(a answer) (bool, string) { return a.status/100 == 2, "" }
	if a, ok = w.do(ctx, kindNotify, w.mcpRequest(ctx, t, token, http.MethodPost, session, initializedMsg), two); ok && a.status/100 == 2 {
		w.do(ctx, kindCall, w.mcpRequest(ctx, t, token, http.MethodPost, session, whoamiCall), func(a answer) (bool, string) {
			if a.status != http.StatusOK {
				return false, w.challenge(t, a)
			}
			var res struct {
				Result struct {
					Structured *struct{ Tenant, Subject string } `json:"structuredContent"`
				} `json:"result"`
			}
			if json.Unmarshal(a.body, &res) != nil || res.Result.Structured == nil {
				return false, ""
			}
			if s := res.Result.Structured; s.Tenant != t.id || s.Subject != subject {
				return false, fmt.Sprintf("%s: whoami %s", t.id, a.body)
			}
			return true, ""
		})
	}
	w.do(ctx, kindDelete, w.mcpRequest(ctx, t, token, http.MethodDelete, session, ""), two)
}
