// Package scenario runs the multi-tenant MCP scenarios against an /mcp
// endpoint wired as the README shows: the tenancy service's tenant
// middleware, the tenant's bearer check, then the MCP handler under test.
// The glue packages of each SDK run the same scenarios, so that what is
// claimed for any SDK is shown for each.
package scenario

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// SessionHeader is the header of the Streamable HTTP transport that
// carries the session ID.
const SessionHeader = "Mcp-Session-Id"

// Backend is a Redis the scenarios run against.
type Backend struct {
	Name string
	// Open returns an emptied Redis for one test, and the embedded server
	// when it is miniredis (nil otherwise).
	Open func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis)
}

// Backends returns miniredis, and the real Redis when TENANCY_REDIS_ADDR
// names one. The real Redis is locked for the whole calling test, so that
// the test binaries of other packages, which flush it, wait meanwhile.
func Backends(t *testing.T) []Backend {
	t.Helper()
	bs := []Backend{{Name: "miniredis", Open: func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis) {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb, m
	}}}
	addr, ok := testredis.LookupAddr(t)
	if !ok {
		t.Logf("%s not set: the real-Redis cases are skipped", testredis.EnvAddr)
		return bs
	}
	testredis.Lock(t, addr)
	return append(bs, Backend{Name: "redis", Open: func(t *testing.T) (redis.UniversalClient, *miniredis.Miniredis) {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, rdb.FlushAll(ctx).Err())
		return rdb, nil
	}})
}

// Handler is the guarded MCP handler of an SDK's glue.
type Handler interface {
	http.Handler
	// HandleEvent, Close and Len are the session guard's.
	HandleEvent(store.Event)
	Close(ctx context.Context) error
	Len() int
	// Holds reports whether the SDK holds the session.
	Holds(sessionID string) bool
}

// SDK is the glue of one MCP SDK under test.
type SDK struct {
	// New returns the guarded handler of a server with the tools whoami
	// (structured output {"tenant":…,"subject":…} of the current request)
	// and count (sends the progress notifications 1 to 3, each followed by
	// e.Delivered, then answers "done"), built with the guard's
	// configuration.
	New func(t *testing.T, e *Env, guard mcpsession.Config) Handler
	// Broadcast sends a notification to every session of the server,
	// which a client receives on its GET stream.
	Broadcast func()
}

// Options tunes Start.
type Options struct {
	// Anonymous lets requests without a token through the bearer check.
	Anonymous bool
}

// TTL is the session lifetime of the scenarios.
const TTL = time.Hour

// Env is a running server with two tenants, acme (maxSessions 2) and
// globex (no limit), each with an identity provider of its own.
type Env struct {
	t       *testing.T
	Svc     *tenancy.Service
	Srv     *httptest.Server
	Rdb     redis.UniversalClient
	Mini    *miniredis.Miniredis
	IdP     map[string]*oidctest.Server
	Client  *http.Client
	Handler Handler
	// Clock is the guard's.
	Clock *testclock.Clock
	// Log holds the guard's log lines.
	Log *testlog.Buffer

	progress chan float64 // progress notifications the client received
}

// Delivered waits until the client has received the progress
// notification p, and reports whether it did: a tool that calls it after
// each notification shows that every notification left the server while
// the call was still running, which a writer that held the event stream
// back until the end would not let happen.
func (e *Env) Delivered(ctx context.Context, p float64) bool {
	for {
		select {
		case got := <-e.progress:
			if got == p {
				return true
			}
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Second):
			return false
		}
	}
}

// Start runs the glue of sdk on backend b, in header mode, wired as the
// README shows.
func Start(t *testing.T, b Backend, sdk SDK, opts Options) *Env {
	t.Helper()
	rdb, mini := b.Open(t)
	svc, err := tenancy.New(tenancy.Config{
		Redis:          rdb,
		MultiTenant:    true,
		Identification: tenancy.ByHeader,
		SessionTTL:     TTL,
		OIDC:           oidcx.Config{InsecureAllowLoopback: true}, // the test providers listen on 127.0.0.1
		Logger:         slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	select {
	case <-svc.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("the service does not follow the tenant events")
	}
	e := &Env{t: t, Svc: svc, Rdb: rdb, Mini: mini, IdP: map[string]*oidctest.Server{},
		Clock: testclock.New(time.Now()), Log: &testlog.Buffer{}, progress: make(chan float64, 16)}
	for _, tn := range []struct {
		id  string
		max int
	}{{"acme", 2}, {"globex", 0}} {
		idp := oidctest.New(t)
		e.IdP[tn.id] = idp
		_, err := svc.Store().Tenants().Create(t.Context(), &tenant.Tenant{
			ID: tn.id, Name: tn.id, Status: tenant.StatusActive,
			OIDC: idp.OIDC("aud-" + tn.id), Limits: tenant.Limits{MaxSessions: tn.max},
		})
		require.NoError(t, err)
	}
	e.Srv = httptest.NewUnstartedServer(nil)
	urls, err := svc.URLs("http://" + e.Srv.Listener.Addr().String())
	require.NoError(t, err)
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{
		Verifier:               svc.Verifier(),
		URLs:                   urls,
		InsecureAllowAnonymous: opts.Anonymous,
		Logger:                 slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	e.Handler = sdk.New(t, e, mcpsession.Config{
		Sessions: svc.Store().Sessions(),
		Tenants:  svc.Store().Tenants(),
		TTL:      svc.Config().SessionTTL,
		Now:      e.Clock.Now,
		Logger:   slog.New(slog.NewTextHandler(e.Log, nil)),
	})
	svc.OnEvent(e.Handler.HandleEvent)
	mux := http.NewServeMux()
	mux.Handle("/mcp", svc.Middleware(bearer(e.Handler)))
	e.Srv.Config.Handler = mux
	e.Srv.Start()
	// Cleanups run last first: the sessions are freed before the server,
	// the service and the Redis client go.
	t.Cleanup(e.Srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, e.Handler.Close(ctx))
	})
	e.Client = e.Srv.Client()
	e.Client.Timeout = 20 * time.Second
	return e
}

// Token returns a valid token of the tenant's provider for subject.
func (e *Env) Token(tenantID, subject string) string {
	idp := e.IdP[tenantID]
	return idp.Token(idp.Claims("aud-"+tenantID, subject))
}

// Answer is a response with its body read, and the JSON-RPC message it
// carries (the last one of an event stream).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	// Message is the JSON-RPC message of the body, nil when there is none.
	Message map[string]any
}

// Request builds a request to the tenant's MCP endpoint.
func (e *Env) Request(method, tenantID, token, session, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.Srv.URL+"/mcp", rd)
	require.NoError(e.t, err)
	req.Header.Set("X-Tenant-ID", tenantID)
	req.Header.Set("Accept", "application/json, text/event-stream")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set(SessionHeader, session)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	}
	return req
}

// Do sends req and reads the answer.
func (e *Env) Do(req *http.Request) Answer {
	e.t.Helper()
	resp, err := e.Client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: body, Message: message(body)}
}

// message returns the JSON-RPC message of a JSON body, or the last one of
// an event stream.
func message(body []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		return m
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
			var next map[string]any
			if json.Unmarshal([]byte(strings.TrimSpace(data)), &next) == nil {
				m = next
			}
		}
	}
	return m
}

// Post posts a JSON-RPC body to the tenant's MCP endpoint.
func (e *Env) Post(tenantID, token, session, body string) Answer {
	e.t.Helper()
	return e.Do(e.Request(http.MethodPost, tenantID, token, session, body))
}

// InitializeBody is an initialize request with ID 1.
const InitializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"scenario","version":"1"}}}`

// WhoamiBody calls the whoami tool, with ID 7.
const WhoamiBody = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`

// Open opens a session on the tenant with token and returns its ID.
func (e *Env) Open(tenantID, token string) string {
	e.t.Helper()
	a := e.Post(tenantID, token, "", InitializeBody)
	require.Equal(e.t, http.StatusOK, a.Status, "initialize: %s", a.Body)
	id := a.Header.Get(SessionHeader)
	require.NotEmpty(e.t, id, "initialize issues a session ID")
	a = e.Post(tenantID, token, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	require.Equal(e.t, http.StatusAccepted, a.Status, "initialized: %s", a.Body)
	return id
}

// Whoami calls the whoami tool in a session; ok reports a 200 answer, and
// who is the tool's structured output.
func (e *Env) Whoami(tenantID, token, session string) (a Answer, who string) {
	e.t.Helper()
	a = e.Post(tenantID, token, session, WhoamiBody)
	if a.Status != http.StatusOK || a.Message == nil {
		return a, ""
	}
	res, _ := a.Message["result"].(map[string]any)
	out, err := json.Marshal(res["structuredContent"])
	require.NoError(e.t, err)
	return a, string(out)
}

// Who is the structured output of whoami for a tenant and a subject.
func Who(tenantID, subject string) string {
	out, _ := json.Marshal(map[string]string{"tenant": tenantID, "subject": subject})
	return string(out)
}

// Issue is the scenario that a host wired without the session guard
// fails: a session of one tenant driven from another, a session of one
// caller used by another, and a tenant's maxSessions.
func Issue(t *testing.T, e *Env) {
	alice, carol := e.Token("acme", "alice"), e.Token("acme", "carol")
	bob := e.Token("globex", "bob")
	sa := e.Open("acme", alice)
	a, who := e.Whoami("acme", alice, sa)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	assert.JSONEq(t, Who("acme", "alice"), who, "the tool sees the request's tenant and subject")
	sb := e.Open("globex", bob)
	a, who = e.Whoami("globex", bob, sb)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	assert.JSONEq(t, Who("globex", "bob"), who)

	// A valid globex token passes globex's bearer check; acme's session
	// must still be unknown there.
	foreign, who := e.Whoami("globex", bob, sa)
	assert.Equal(t, http.StatusNotFound, foreign.Status, "acme's session on globex: %s (tool saw %s)", foreign.Body, who)
	RequireRPCError(t, foreign, nil)

	// carol is acme's too, but the session is alice's.
	other, who := e.Whoami("acme", carol, sa)
	assert.Equal(t, http.StatusNotFound, other.Status, "alice's session used by carol: %s (tool saw %s)", other.Body, who)
	RequireRPCError(t, other, nil)
	assert.Equal(t, string(foreign.Body), string(other.Body), "another caller's session is answered like an unknown one")

	// acme holds at most 2 sessions: alice has one, carol opens the second,
	// the third is refused with the initialize request's ID.
	e.Open("acme", carol)
	a = e.Post("acme", alice, "", InitializeBody)
	assert.Equal(t, http.StatusForbidden, a.Status, "maxSessions 2: %s", a.Body)
	RequireRPCError(t, a, float64(1))
	if rpcErr, ok := a.Message["error"].(map[string]any); ok {
		assert.EqualValues(t, -32000, rpcErr["code"])
	}
	assert.Empty(t, a.Header.Get(SessionHeader), "a refused session has no ID")

	// The owner's session still works, for the owner.
	a, who = e.Whoami("acme", alice, sa)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	assert.JSONEq(t, Who("acme", "alice"), who)
}

// RequireRPCError checks that a carries a JSON-RPC error response with the
// given ID (nil for null).
func RequireRPCError(t *testing.T, a Answer, id any) {
	t.Helper()
	if !assert.NotNil(t, a.Message, "a JSON-RPC error body: %s", a.Body) {
		return
	}
	assert.Equal(t, "2.0", a.Message["jsonrpc"], "%s", a.Body)
	assert.Equal(t, id, a.Message["id"], "%s", a.Body)
	assert.Contains(t, a.Message, "error", "%s", a.Body)
	assert.Equal(t, "application/json", a.Header.Get("Content-Type"))
}
