package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// adminKey is the admin API key the server is started with.
const adminKey = "load-admin-key"

// loadTenant is one tenant of the run, with what its answers must name.
type loadTenant struct {
	id      string
	issuer  string
	authURL string // its oidc.authorizationUrl, unique to it
	token   string // a valid access token for it, subject "user-<id>"
}

// mix is the share, in percent, of each kind of work a worker picks.
type mix struct{ meta, whoami, register int }

// client sends the requests of one run and checks their answers.
type client struct {
	base string // http://127.0.0.1:port, the server's PUBLIC_URL
	http *http.Client
	rec  *recorder
}

func newClient(base string, rec *recorder, conns int) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	return &client{base: base, rec: rec, http: &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// makeTenant returns tenant i's definition, trusting idp.
func makeTenant(i int, idp *oidctest.Server) loadTenant {
	id := fmt.Sprintf("t%04d", i)
	t := loadTenant{id: id, issuer: idp.Issuer(), authURL: idp.Issuer() + "/authorize/" + id}
	t.token = idp.Token(idp.Claims("aud-"+id, "user-"+id))
	return t
}

func (c *client) createTenants(ctx context.Context, ts []loadTenant) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(ts))
	next := make(chan loadTenant)
	for range 8 {
		wg.Go(func() {
			for t := range next {
				body := map[string]any{
					"id": t.id, "name": "Tenant " + t.id,
					"oidc":   map[string]string{"issuer": t.issuer, "audience": "aud-" + t.id, "authorizationUrl": t.authURL},
					"limits": map[string]int{"maxClients": 1000, "maxSessions": 100, "rateLimit": 6000},
				}
				if st, b, err := c.admin(ctx, http.MethodPost, "", body); err != nil || st != http.StatusCreated {
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
			w.whoami(ctx, t)
		default:
			w.register(ctx, t)
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

// do sends req and records it as kind; ok decides whether the answer is
// the expected one. It returns false when there was no answer, or when
// ctx ended first (the run is over: nothing is recorded).
func (w *worker) do(ctx context.Context, kind string, req *http.Request, ok func(answer) bool) (answer, bool) {
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
	if (a.status == http.StatusServiceUnavailable || a.status == http.StatusTooManyRequests) && a.header.Get("Retry-After") == "" {
		w.c.rec.missingRetryAfter(kind)
	}
	w.buf = append(w.buf, event{at: at, lat: lat, kind: kind, status: a.status, ok: ok(a), victim: w.victim})
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

func status(code int) func(answer) bool { return func(a answer) bool { return a.status == code } }

// checkChallenge reports a 401 whose challenge names another tenant's
// metadata.
func (w *worker) checkChallenge(t loadTenant, a answer) {
	if a.status != http.StatusUnauthorized {
		return
	}
	want := `resource_metadata="` + w.c.base + "/.well-known/oauth-protected-resource/" + t.id + `/mcp"`
	if h := a.header.Get("WWW-Authenticate"); !strings.Contains(h, want) {
		w.c.rec.cross("%s: 401 challenge %q", t.id, h)
	}
}

// metadata fetches the tenant's protected-resource metadata and checks
// that it describes this tenant: its MCP URL and its issuer.
func (w *worker) metadata(ctx context.Context, t loadTenant) {
	u := w.c.base + "/.well-known/oauth-protected-resource/" + t.id + "/mcp"
	a, ok := w.do(ctx, kindMeta, w.newRequest(ctx, http.MethodGet, u, ""), status(http.StatusOK))
	if !ok || a.status != http.StatusOK {
		return
	}
	var m struct {
		Resource string   `json:"resource"`
		Servers  []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal(a.body, &m); err != nil || m.Resource != w.c.base+"/"+t.id+"/mcp" ||
		len(m.Servers) != 1 || m.Servers[0] != t.issuer {
		w.c.rec.cross("%s: metadata %s", t.id, a.body)
	}
}

const (
	initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"loadtest","version":"1"}}}`
	initializedMsg = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	whoamiCall     = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
)

// mcpRequest is a JSON-RPC request of MCP's Streamable HTTP transport to
// the tenant's endpoint, with its token and session.
func (w *worker) mcpRequest(ctx context.Context, t loadTenant, method, session, body string) *http.Request {
	req := w.newRequest(ctx, method, w.c.base+"/"+t.id+"/mcp", body)
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+t.token)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	}
	return req
}

// whoami opens an MCP session with the tenant's token, calls whoami,
// checks that it names this tenant and the token's subject, and ends the
// session.
func (w *worker) whoami(ctx context.Context, t loadTenant) {
	a, ok := w.do(ctx, kindInit, w.mcpRequest(ctx, t, http.MethodPost, "", initializeBody), status(http.StatusOK))
	w.checkChallenge(t, a)
	session := a.header.Get("Mcp-Session-Id")
	if !ok || a.status != http.StatusOK || session == "" {
		return
	}
	two := func(a answer) bool { return a.status/100 == 2 }
	if a, ok = w.do(ctx, kindNotify, w.mcpRequest(ctx, t, http.MethodPost, session, initializedMsg), two); ok && a.status/100 == 2 {
		a, ok = w.do(ctx, kindCall, w.mcpRequest(ctx, t, http.MethodPost, session, whoamiCall), status(http.StatusOK))
		w.checkChallenge(t, a)
		if ok && a.status == http.StatusOK {
			var res struct {
				Result struct {
					Structured struct{ Tenant, Subject string } `json:"structuredContent"`
				} `json:"result"`
			}
			if err := json.Unmarshal(a.body, &res); err != nil || res.Result.Structured.Tenant != t.id ||
				res.Result.Structured.Subject != "user-"+t.id {
				w.c.rec.cross("%s: whoami %s", t.id, a.body)
			}
		}
	}
	w.do(ctx, kindDelete, w.mcpRequest(ctx, t, http.MethodDelete, session, ""), two)
}

// register registers a client with the tenant (RFC 7591), follows the
// authorization redirect, which must lead to this tenant's authorization
// URL, and for one registration in four presents the client to another
// tenant, which must not know it.
func (w *worker) register(ctx context.Context, t loadTenant) {
	const redirect = "http://127.0.0.1:9/callback"
	body := `{"redirect_uris":["` + redirect + `"],"client_name":"load"}`
	a, ok := w.do(ctx, kindRegister, w.newRequest(ctx, http.MethodPost, w.c.base+"/"+t.id+"/oauth/register", body), status(http.StatusCreated))
	if !ok || a.status != http.StatusCreated {
		return
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(a.body, &reg); err != nil || reg.ClientID == "" {
		w.c.rec.cross("%s: registration %s", t.id, a.body)
		return
	}
	w.clients[t.id] = append(w.clients[t.id], reg.ClientID)
	q := "?response_type=code&client_id=" + url.QueryEscape(reg.ClientID) + "&redirect_uri=" + url.QueryEscape(redirect)
	a, ok = w.do(ctx, kindAuthorize, w.newRequest(ctx, http.MethodGet, w.c.base+"/"+t.id+"/oauth/authorize"+q, ""), status(http.StatusFound))
	if ok && a.status == http.StatusFound && !strings.HasPrefix(a.header.Get("Location"), t.authURL+"?") {
		w.c.rec.cross("%s: authorize redirects to %q", t.id, a.header.Get("Location"))
	}
	if w.rnd.IntN(4) == 0 && len(w.ts) > 1 {
		other := w.ts[w.rnd.IntN(len(w.ts))]
		if other.id == t.id {
			return
		}
		a, ok = w.do(ctx, kindForeign, w.newRequest(ctx, http.MethodGet, w.c.base+"/"+other.id+"/oauth/authorize"+q, ""), status(http.StatusBadRequest))
		if ok && a.status != http.StatusBadRequest && a.status/100 != 5 && a.status != http.StatusTooManyRequests {
			w.c.rec.cross("%s's client on %s: %d %s", t.id, other.id, a.status, a.header.Get("Location"))
		}
	}
}
