package scenario

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/tenant"
)

// Row is one behaviour of the guarded endpoint, run on a fresh Env.
type Row struct {
	Name string
	Run  func(t *testing.T, e *Env, sdk SDK)
}

// Rows are the answers the guarded endpoint gives, one row each.
var Rows = []Row{
	{"Issue", func(t *testing.T, e *Env, _ SDK) { Issue(t, e) }},
	{"CallerLimit", callerLimit},
	{"Delete", deleteSession},
	{"Idle", idle},
	{"TenantSuspended", func(t *testing.T, e *Env, _ SDK) { tenantGone(t, e, true) }},
	{"TenantDeleted", func(t *testing.T, e *Env, _ SDK) { tenantGone(t, e, false) }},
	{"Shutdown", shutdown},
	{"Streaming", streaming},
	{"Hosts", hosts},
}

// Stored reports whether the tenant's store holds the session.
func (e *Env) Stored(tenantID, id string) bool {
	n, err := e.Rdb.Exists(context.Background(), keys.Session(tenantID, id)).Result()
	require.NoError(e.t, err)
	return n == 1
}

// callerLimit: a caller holds at most 16 sessions of a tenant, even one
// without maxSessions; the 17th is refused like maxSessions refuses.
func callerLimit(t *testing.T, e *Env, _ SDK) {
	bob := e.Token("globex", "bob")
	for range mcpsession.DefaultPerCaller {
		e.Open("globex", bob)
	}
	a := e.Post("globex", bob, "", InitializeBody)
	assert.Equal(t, http.StatusForbidden, a.Status, "%s", a.Body)
	RequireRPCError(t, a, float64(1))
	rpcErr, _ := a.Message["error"].(map[string]any)
	assert.EqualValues(t, mcpsession.CodeSessionLimit, rpcErr["code"])
	assert.Contains(t, rpcErr["message"], "this caller")
	assert.Equal(t, mcpsession.DefaultPerCaller, e.Handler.Len(), "the refused session was ended")
	e.Open("globex", e.Token("globex", "dave")) // another caller has its own count
}

// deleteSession: a DELETE ends the session in the handler and frees its
// place at once.
func deleteSession(t *testing.T, e *Env, _ SDK) {
	alice := e.Token("acme", "alice")
	first, second := e.Open("acme", alice), e.Open("acme", alice)
	require.Equal(t, http.StatusForbidden, e.Post("acme", alice, "", InitializeBody).Status, "acme is full")
	a := e.Do(e.Request(http.MethodDelete, "acme", alice, first, ""))
	require.Equal(t, 2, a.Status/100, "DELETE: %d %s", a.Status, a.Body)
	assert.False(t, e.Handler.Holds(first), "the handler ended it")
	assert.False(t, e.Stored("acme", first), "its record is gone")
	e.Open("acme", alice) // its place is free
	a, _ = e.Whoami("acme", alice, first)
	assert.Equal(t, http.StatusNotFound, a.Status)
	assert.True(t, e.Handler.Holds(second))
}

// idle: a session unused for longer than its lifetime is gone, from the
// store and from the handler.
func idle(t *testing.T, e *Env, _ SDK) {
	alice := e.Token("acme", "alice")
	id := e.Open("acme", alice)
	e.Clock.Advance(TTL / 2)
	a, _ := e.Whoami("acme", alice, id)
	require.Equal(t, http.StatusOK, a.Status, "a request extends it")
	e.Clock.Advance(TTL / 2)
	a, _ = e.Whoami("acme", alice, id)
	require.Equal(t, http.StatusOK, a.Status, "still alive: its last request was half a lifetime ago")
	e.Clock.Advance(TTL + time.Second)
	a, _ = e.Whoami("acme", alice, id)
	assert.Equal(t, http.StatusNotFound, a.Status, "idle past its lifetime")
	RequireRPCError(t, a, nil)
	require.Eventually(t, func() bool { return !e.Handler.Holds(id) && !e.Stored("acme", id) },
		10*time.Second, 5*time.Millisecond, "ended in the handler and gone from the store")
}

// stream opens a session's GET stream and returns a channel closed when
// the stream ends.
func (e *Env) stream(tenantID, token, id string) <-chan struct{} {
	e.t.Helper()
	req := e.Request(http.MethodGet, tenantID, token, id, "")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := e.Client.Do(req)
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	return ended
}

// tenantGone: a tenant suspended or deleted while its sessions are open
// loses them: their event streams end, the handler forgets them, and the
// store frees them. Another tenant keeps its own.
func tenantGone(t *testing.T, e *Env, suspend bool) {
	alice, bob := e.Token("acme", "alice"), e.Token("globex", "bob")
	sa, sb := e.Open("acme", alice), e.Open("globex", bob)
	ended := e.stream("acme", alice, sa)
	ctx := context.Background()
	if suspend {
		a, err := e.Svc.Store().Tenants().Get(ctx, "acme")
		require.NoError(t, err)
		s := *a
		s.Status = tenant.StatusSuspended
		_, err = e.Svc.Store().Tenants().Update(ctx, &s)
		require.NoError(t, err)
	} else {
		_, err := e.Svc.Store().Tenants().Delete(ctx, "acme")
		require.NoError(t, err)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream of the tenant's session is still open")
	}
	require.Eventually(t, func() bool { return !e.Handler.Holds(sa) && !e.Stored("acme", sa) },
		10*time.Second, 5*time.Millisecond, "ended in the handler and gone from the store")
	assert.True(t, e.Handler.Holds(sb))
	a, who := e.Whoami("globex", bob, sb)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	assert.JSONEq(t, Who("globex", "bob"), who)
	if !suspend {
		left, err := e.Rdb.Keys(ctx, keys.Prefix("acme")+"*").Result()
		require.NoError(t, err)
		assert.Empty(t, left, "ending the sessions recreates no key")
	}
}

// shutdown: Close ends every session in the handler and frees every
// place before the Redis client is closed, and nothing is logged about a
// closed client.
func shutdown(t *testing.T, e *Env, _ SDK) {
	alice, bob := e.Token("acme", "alice"), e.Token("globex", "bob")
	ids := []string{e.Open("acme", alice), e.Open("globex", bob), e.Open("globex", bob)}
	ended := e.stream("globex", bob, ids[1])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.Handler.Close(ctx))
	<-ended
	for _, id := range ids {
		assert.False(t, e.Handler.Holds(id))
	}
	left, err := e.Rdb.Keys(ctx, "tenant:{*}:session:*").Result()
	require.NoError(t, err)
	assert.Empty(t, left, "every session was freed")
	require.NoError(t, e.Rdb.Close())
	time.Sleep(50 * time.Millisecond) // anything still running would log now
	assert.NotContains(t, e.Log.String(), "closed")
	assert.Empty(t, e.Log.String())
	a := e.Post("globex", bob, "", InitializeBody)
	assert.NotEqual(t, http.StatusOK, a.Status, "a closed guard opens no session")
}

// headers is a RoundTripper that sets headers on every request.
type headers struct {
	next http.RoundTripper
	set  http.Header
}

func (h *headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.set {
		r.Header[k] = v
	}
	return h.next.RoundTrip(r)
}

// streaming: through the guard, with the official Go SDK's client in its
// default event-stream mode, each of a tool's progress notifications
// reaches the client while the call runs (the tool waits for it), and a
// notification the server sends to every session arrives on the client's
// GET stream.
func streaming(t *testing.T, e *Env, sdk SDK) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &headers{next: e.Client.Transport, set: http.Header{
		"Authorization": {"Bearer " + e.Token("acme", "alice")},
		"X-Tenant-Id":   {"acme"},
	}}}
	var mu sync.Mutex
	var progress []float64
	listChanged := make(chan struct{}, 1)
	c := mcp.NewClient(&mcp.Implementation{Name: "scenario", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, r.Params.Progress)
			mu.Unlock()
			e.progress <- r.Params.Progress
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case listChanged <- struct{}{}:
			default:
			}
		},
	})
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: e.Srv.URL + "/mcp", HTTPClient: hc, MaxRetries: -1}, nil)
	require.NoError(t, err)
	defer cs.Close()

	params := &mcp.CallToolParams{Name: "count", Arguments: map[string]any{}}
	params.SetProgressToken("p1")
	res, err := cs.CallTool(ctx, params)
	require.NoError(t, err)
	require.False(t, res.IsError, "each progress notification reached the client while the call was running: %v", res.Content)
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	assert.Contains(t, text, "done")
	mu.Lock()
	assert.Equal(t, []float64{1, 2, 3}, progress)
	mu.Unlock()

	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	out := fmt.Sprint(res.StructuredContent)
	assert.Contains(t, out, "acme")
	assert.Contains(t, out, "alice")

	// The client opens its GET stream after initialize; give it a moment,
	// then broadcast until the notification arrives.
	deadline := time.After(10 * time.Second)
	for {
		sdk.Broadcast()
		select {
		case <-listChanged:
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("a notification to every session did not arrive on the GET stream")
		}
	}
}

// hosts: the tenants' hosts pass the protection against DNS rebinding,
// a foreign name on a loopback connection does not.
func hosts(t *testing.T, e *Env, _ SDK) {
	_, port, ok := strings.Cut(strings.TrimPrefix(e.Srv.URL, "http://"), ":")
	require.True(t, ok)
	for _, tc := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"acme.localhost:" + port, http.StatusOK},
		{"ACME.localhost.:" + port, http.StatusOK},
		{"evil.example:" + port, http.StatusForbidden},
	} {
		req := e.Request(http.MethodPost, "acme", e.Token("acme", "alice"), "", InitializeBody)
		req.Host = tc.host
		a := e.Do(req)
		assert.Equal(t, tc.want, a.Status, "%s: %s", tc.host, a.Body)
		if a.Status == http.StatusOK {
			id := a.Header.Get(SessionHeader)
			require.NotEmpty(t, id)
			require.Equal(t, 2, e.Do(e.Request(http.MethodDelete, "acme", e.Token("acme", "alice"), id, "")).Status/100)
		}
	}
}
