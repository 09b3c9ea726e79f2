package mcpsession

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// rpcAnswer decodes a JSON-RPC error answer of the guard.
func rpcAnswer(t *testing.T, w *httptest.ResponseRecorder) (id any, code int, msg string) {
	t.Helper()
	var m struct {
		JSONRPC string `json:"jsonrpc"`
		ID      any    `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	assert.Equal(t, "2.0", m.JSONRPC)
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	return m.ID, m.Error.Code, m.Error.Message
}

func TestInitializeRecordsTheSessionBeforeTheAnswerLeaves(t *testing.T) {
	for _, silent := range []bool{false, true} {
		h := newHarness(t)
		h.sdk.silent = silent
		var recorded *store.Session
		h.sdk.onAnswer = func(id string) { recorded = h.stored("acme", id) }
		// A real connection: net/http sends the headers of a silent
		// handler after it returns, which must still be after admission.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.guard.ServeHTTP(w, h.request(r.Method, "acme", alice, "", initBody))
		}))
		resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(initBody))
		require.NoError(t, err)
		resp.Body.Close()
		srv.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		id := resp.Header.Get(Header)
		require.NotEmpty(t, id)
		if !silent {
			require.NotNil(t, recorded, "recorded when the handler's header was written")
		}
		s := h.stored("acme", id)
		require.NotNil(t, s, "silent %v", silent)
		assert.Equal(t, alice.owner(), store.OwnerOf(s))
		assert.Equal(t, 1, h.guard.Len())
	}
}

func TestAnonymousCallerOwnsWithAnEmptyOwner(t *testing.T) {
	h := newHarness(t)
	id := h.open("acme", anon)
	assert.Equal(t, store.Owner{}, store.OwnerOf(h.stored("acme", id)))
	assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "acme", anon, id, `{"jsonrpc":"2.0","id":2,"method":"ping"}`).Code)
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "acme", alice, id, `{"jsonrpc":"2.0","id":2,"method":"ping"}`).Code,
		"an anonymous session is not an authenticated caller's")
}

func TestSessionLimits(t *testing.T) {
	h := newHarness(t) // acme: maxSessions 3; PerCaller 2
	h.open("acme", alice)
	h.open("acme", alice)

	// alice is at the per-caller limit.
	r := h.request(http.MethodPost, "acme", alice, "", initBody)
	w := httptest.NewRecorder()
	w.Header().Set("RateLimit-Limit", "100") // set by the middleware in front
	h.guard.ServeHTTP(w, r)
	assert.Equal(t, http.StatusForbidden, w.Code)
	id, code, msg := rpcAnswer(t, w)
	assert.Equal(t, "init-1", id, "the initialize request's ID is echoed")
	assert.Equal(t, CodeSessionLimit, code)
	assert.Equal(t, msgCallerLimit, msg)
	assert.Empty(t, w.Header().Get(Header), "the refused session's ID is not given out")
	assert.Equal(t, "100", w.Header().Get("RateLimit-Limit"), "the middleware's headers stay")
	require.Len(t, h.sdk.endedSessions(), 1, "the handler's new session was ended")
	refused := h.sdk.endedSessions()[0]
	assert.False(t, h.sdk.holds(refused))
	assert.Nil(t, h.stored("acme", refused))

	// carol takes the tenant's last place; then everyone is refused.
	h.open("acme", carol)
	for _, who := range []caller{carol, anon} {
		w = h.do(http.MethodPost, "acme", who, "", `[{"jsonrpc":"2.0","id":9,"method":"initialize"}]`)
		assert.Equal(t, http.StatusForbidden, w.Code)
		id, code, msg = rpcAnswer(t, w)
		assert.EqualValues(t, 9, id, "the ID of the initialize request in a batch")
		assert.Equal(t, CodeSessionLimit, code)
		assert.Equal(t, msgTenantLimit, msg, "maxSessions bounds the tenant")
	}
	assert.Len(t, h.sdk.endedSessions(), 3)
	assert.Equal(t, 3, h.guard.Len())
	// Another tenant has its own count.
	h.open("globex", bob)
}

func TestNoPerCallerLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PerCaller = -1 })
	for range 3 {
		h.open("acme", alice)
	}
	w := h.do(http.MethodPost, "acme", alice, "", initBody)
	assert.Equal(t, http.StatusForbidden, w.Code)
	_, _, msg := rpcAnswer(t, w)
	assert.Equal(t, msgTenantLimit, msg)
}

func TestDefaultPerCallerLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PerCaller = 0 })
	for range DefaultPerCaller {
		h.open("globex", bob)
	}
	w := h.do(http.MethodPost, "globex", bob, "", initBody)
	assert.Equal(t, http.StatusForbidden, w.Code, "a tenant without maxSessions still bounds each caller")
	_, _, msg := rpcAnswer(t, w)
	assert.Equal(t, msgCallerLimit, msg)
}

// TestForeignSessions checks that a session is served only for its tenant
// and its owner, with the same 404 for every other request, before the
// handler sees it and before anything about the session changes.
func TestForeignSessions(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TouchEvery = -1 }) // every served request touches
	sa := h.open("acme", alice)
	reached := h.sdk.reachedCount()
	before := h.stored("acme", sa)
	h.clock.Advance(10 * time.Minute)
	touches := h.sessions.touches.Load()

	unknown := h.do(http.MethodPost, "acme", alice, "no-such-session", `{}`)
	for _, tc := range []struct {
		name   string
		tenant string
		who    caller
		id     string
	}{
		{"another tenant's", "globex", bob, sa},
		{"another tenant's, same subject", "globex", alice, sa},
		{"another caller's", "acme", carol, sa},
		{"another issuer's, same subject", "acme", caller{"https://other.example", "alice"}, sa},
		{"the anonymous caller's", "acme", anon, sa},
		{"malformed", "acme", alice, "a b"},
	} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			w := h.do(method, tc.tenant, tc.who, tc.id, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
			assert.Equal(t, http.StatusNotFound, w.Code, "%s %s", tc.name, method)
			assert.Equal(t, unknown.Body.String(), w.Body.String(), "%s %s: answered like an unknown session", tc.name, method)
			assert.Equal(t, unknown.Header(), w.Header(), "%s %s", tc.name, method)
		}
	}
	id, code, msg := rpcAnswer(t, unknown)
	assert.Nil(t, id)
	assert.Equal(t, CodeSessionNotFound, code)
	assert.Equal(t, msgNotFound, msg)
	assert.Equal(t, reached, h.sdk.reachedCount(), "the handler saw none of them")
	assert.Equal(t, touches, h.sessions.touches.Load(), "none of them touched the session")
	assert.Equal(t, before, h.stored("acme", sa), "the session is as it was")
	assert.True(t, h.sdk.holds(sa))

	// Nor did they extend its life: untouched since its start, the session
	// expires on time.
	h.clock.Advance(testTTL)
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "acme", alice, sa, `{}`).Code)
	h.settle()
	assert.False(t, h.sdk.holds(sa), "ended in the handler")
}

// TestStoredSessions checks the sessions the guard does not hold (another
// replica admitted them): the store decides, owner first.
func TestStoredSessions(t *testing.T) {
	h := newHarness(t)
	// Another replica's guard admitted it; this replica's handler (shared
	// here) holds it too, as a sticky session's handler would.
	_, err := h.mem.Sessions().Admit(t.Context(), "acme", "remote", alice.owner(), store.SessionLimits{})
	require.NoError(t, err)
	h.sdk.sessions["remote"] = true
	before := h.stored("acme", "remote")
	h.clock.Advance(time.Minute)

	w := h.do(http.MethodPost, "acme", carol, "remote", `{}`)
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Equal(t, before, h.stored("acme", "remote"), "another caller's request changes nothing")
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "globex", alice, "remote", `{}`).Code)

	w = h.do(http.MethodPost, "acme", alice, "remote", `{}`)
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.True(t, h.stored("acme", "remote").LastAccessedAt.After(before.LastAccessedAt), "the owner's request extends it")

	// When the handler does not hold it (its replica is gone), its place
	// is freed.
	delete(h.sdk.sessions, "remote")
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "acme", alice, "remote", `{}`).Code)
	assert.Nil(t, h.stored("acme", "remote"))
}

func TestDeleteFreesThePlace(t *testing.T) {
	h := newHarness(t)
	ids := []string{h.open("acme", alice), h.open("acme", alice), h.open("acme", carol)}
	assert.Equal(t, http.StatusForbidden, h.do(http.MethodPost, "acme", carol, "", initBody).Code)

	w := h.do(http.MethodDelete, "acme", alice, ids[0], "")
	assert.Equal(t, http.StatusNoContent, w.Code)
	assert.False(t, h.sdk.holds(ids[0]), "the handler ended it")
	assert.Nil(t, h.stored("acme", ids[0]), "its record is gone")
	assert.Equal(t, 2, h.guard.Len())
	h.open("acme", alice) // alice's place and the tenant's are free again
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "acme", alice, ids[0], `{}`).Code)
}

func TestEndedFreesThePlace(t *testing.T) {
	h := newHarness(t)
	id := h.open("acme", alice)
	h.open("acme", alice)
	h.sdk.EndSession(id) // its own idle timeout, say
	h.guard.Ended(id)
	assert.Nil(t, h.stored("acme", id))
	h.open("acme", alice)
	h.guard.Ended("unknown") // ignored
}

func TestSlidingLifetime(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TouchEvery = time.Minute })
	id := h.open("acme", alice)
	ping := `{"jsonrpc":"2.0","id":2,"method":"ping"}`
	touches := h.sessions.touches.Load()
	for range 10 {
		h.clock.Advance(5 * time.Second)
		require.Equal(t, http.StatusOK, h.do(http.MethodPost, "acme", alice, id, ping).Code)
	}
	assert.Equal(t, touches, h.sessions.touches.Load(), "requests within a minute of the last touch cost no round trip")
	assert.Zero(t, h.sessions.gets.Load(), "a held session is checked in memory")
	h.clock.Advance(15 * time.Second)
	require.Equal(t, http.StatusOK, h.do(http.MethodPost, "acme", alice, id, ping).Code)
	assert.Equal(t, touches+1, h.sessions.touches.Load(), "one touch a minute")

	// Requests keep it alive well past one lifetime.
	for range 5 {
		h.clock.Advance(testTTL * 3 / 4)
		require.Equal(t, http.StatusOK, h.do(http.MethodPost, "acme", alice, id, ping).Code)
		require.NotNil(t, h.stored("acme", id))
	}
}

func TestTouchNoticesARecordDeletedBehindTheGuard(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TouchEvery = time.Minute })
	id := h.open("acme", alice)
	require.NoError(t, h.mem.Sessions().Delete(t.Context(), "acme", id))
	h.clock.Advance(time.Minute)
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "acme", alice, id, `{}`).Code)
	assert.Zero(t, h.guard.Len())
	h.settle()
	assert.False(t, h.sdk.holds(id))
}

func TestIdleSessions(t *testing.T) {
	h := newHarness(t)
	onRequest := h.open("acme", alice)
	swept := h.open("acme", alice)
	busy := h.open("globex", bob)

	// busy has an open event stream, which keeps it alive.
	streaming := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := h.request(http.MethodGet, "globex", bob, busy, "")
		w := &notifyRecorder{ResponseRecorder: httptest.NewRecorder(), flushed: streaming}
		h.guard.ServeHTTP(w, r)
	}()
	<-streaming

	// Half a lifetime later the sweeper extends the stream's session in
	// the store; the others are not idle yet.
	h.clock.Advance(testTTL / 2)
	touches := h.sessions.touches.Load()
	h.guard.sweep()
	assert.Equal(t, touches+1, h.sessions.touches.Load(), "the sweeper keeps a busy session's record alive")
	assert.Equal(t, 3, h.guard.Len())

	h.clock.Advance(testTTL/2 + time.Second)
	// The next request of an idle session finds it gone.
	assert.Equal(t, http.StatusNotFound, h.do(http.MethodPost, "acme", alice, onRequest, `{}`).Code)
	h.settle()
	assert.False(t, h.sdk.holds(onRequest))
	assert.Nil(t, h.stored("acme", onRequest))
	// The sweeper ends the others without a request.
	h.guard.sweep()
	h.settle()
	assert.False(t, h.sdk.holds(swept))
	assert.Nil(t, h.stored("acme", swept))
	assert.True(t, h.sdk.holds(busy), "a session with a request in flight is not idle")
	require.NotNil(t, h.stored("globex", busy))
	assert.Equal(t, 1, h.guard.Len())

	require.NoError(t, h.guard.Close(context.Background()))
	<-done // Close cancelled the stream
}

// notifyRecorder closes flushed on its first flush.
type notifyRecorder struct {
	*httptest.ResponseRecorder
	flushed chan struct{}
	once    sync.Once
}

func (n *notifyRecorder) Flush() {
	n.ResponseRecorder.Flush()
	n.once.Do(func() { close(n.flushed) })
}

func TestTenantDeletedOrSuspended(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h *harness)
		event  store.EventType
		kept   bool // the records stay (a deleted tenant's went with it)
	}{
		{"deleted", func(h *harness) {}, store.EventDeleted, true},
		{"suspended", func(h *harness) {
			a, err := h.mem.Tenants().Get(h.t.Context(), "acme")
			require.NoError(h.t, err)
			s := *a
			s.Status = tenant.StatusSuspended
			_, err = h.mem.Tenants().Update(h.t.Context(), &s)
			require.NoError(h.t, err)
		}, store.EventUpdated, false},
		{"suspended, event missed", func(h *harness) {
			a, err := h.mem.Tenants().Get(h.t.Context(), "acme")
			require.NoError(h.t, err)
			s := *a
			s.Status = tenant.StatusSuspended
			_, err = h.mem.Tenants().Update(h.t.Context(), &s)
			require.NoError(h.t, err)
		}, store.EventReset, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			sa, sb := h.open("acme", alice), h.open("globex", bob)
			// A stream open on acme's session ends with it.
			streaming, done := make(chan struct{}), make(chan struct{})
			r := h.request(http.MethodGet, "acme", alice, sa, "")
			go func() {
				defer close(done)
				h.guard.ServeHTTP(&notifyRecorder{ResponseRecorder: httptest.NewRecorder(), flushed: streaming}, r)
			}()
			<-streaming

			tc.change(h)
			h.guard.HandleEvent(store.Event{Type: tc.event, TenantID: "acme"})
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the stream of the tenant's session is still open")
			}
			require.Eventually(t, func() bool { return !h.sdk.holds(sa) }, 5*time.Second, time.Millisecond, "ended in the handler")
			require.Eventually(t, func() bool { return (h.stored("acme", sa) != nil) == tc.kept }, 5*time.Second, time.Millisecond)
			assert.True(t, h.sdk.holds(sb), "another tenant's session stays")
			assert.Equal(t, 1, h.guard.Len())
			assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "globex", bob, sb, `{}`).Code)
		})
	}
}

func TestTenantUpdateKeepsActiveTenantsSessions(t *testing.T) {
	h := newHarness(t)
	sa := h.open("acme", alice)
	h.guard.HandleEvent(store.Event{Type: store.EventUpdated, TenantID: "acme"})
	h.guard.HandleEvent(store.Event{Type: store.EventReset})
	h.guard.HandleEvent(store.Event{Type: store.EventCreated, TenantID: "acme"})
	require.NoError(t, h.guard.Close(context.Background())) // waits for the checks
	assert.Equal(t, []string{sa}, h.sdk.endedSessions(), "only Close ended it")
}

func TestStoreUnavailable(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.TouchEvery = -1 })
	id := h.open("acme", alice)
	h.sessions.down.Store(true)
	for _, w := range []*httptest.ResponseRecorder{
		h.do(http.MethodPost, "acme", alice, "", initBody),
		h.do(http.MethodPost, "acme", alice, id, `{}`),
		h.do(http.MethodPost, "acme", alice, "unknown", `{}`),
	} {
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "5", w.Header().Get("Retry-After"))
		_, code, _ := rpcAnswer(t, w)
		assert.Equal(t, CodeUnavailable, code)
	}
	assert.True(t, h.sdk.holds(id), "an outage ends no session")
	h.sessions.down.Store(false)
	assert.Equal(t, http.StatusOK, h.do(http.MethodPost, "acme", alice, id, `{}`).Code)
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 100 })
	id := h.open("acme", alice)

	r := h.request(http.MethodPost, "acme", alice, id, `{}`)
	r.Header.Add(Header, "sess-999")
	w := h.serve(r)
	assert.Equal(t, http.StatusBadRequest, w.Code, "two session IDs")
	_, code, _ := rpcAnswer(t, w)
	assert.Equal(t, CodeInvalidRequest, code)

	w = h.do(http.MethodPost, "acme", alice, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"padding":"`+strings.Repeat("x", 100)+`"}}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)

	r = httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(initBody))
	w = h.serve(r)
	assert.Equal(t, http.StatusInternalServerError, w.Code, "no tenant: the guard is not behind the tenant middleware")

	r = h.request(http.MethodPost, "acme", alice, "", initBody)
	r = r.WithContext(oidcx.NewContext(r.Context(), &oidcx.Claims{TenantID: "globex", Subject: "alice"}))
	w = h.serve(r)
	assert.Equal(t, http.StatusInternalServerError, w.Code, "a token verified for another tenant")
}

func TestCloseFreesEverySession(t *testing.T) {
	h := newHarness(t)
	ids := []string{h.open("acme", alice), h.open("acme", carol), h.open("globex", bob)}
	deletes := h.sessions.deletes.Load()
	require.NoError(t, h.guard.Close(context.Background()))
	assert.Equal(t, deletes+3, h.sessions.deletes.Load(), "every place was freed before Close returned")
	for _, id := range ids {
		assert.False(t, h.sdk.holds(id))
	}
	assert.Nil(t, h.stored("acme", ids[0]))
	assert.Nil(t, h.stored("globex", ids[2]))
	w := h.do(http.MethodPost, "globex", bob, "", initBody)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	_, _, msg := rpcAnswer(t, w)
	assert.Equal(t, msgClosing, msg)
	require.NoError(t, h.guard.Close(context.Background()), "a second Close does nothing")
}

// TestStreamingThroughTheGuard checks that an event stream is delivered
// event by event through the guard: through the writer that admits a new
// session, and on a session's GET stream.
func TestStreamingThroughTheGuard(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := h.request(r.Method, "acme", alice, r.Header.Get(Header), "")
		ctx, cancel := context.WithCancel(req.Context())
		defer cancel()
		stop := context.AfterFunc(r.Context(), cancel) // the client hangs up
		defer stop()
		h.guard.ServeHTTP(w, req.WithContext(ctx))
	}))
	defer srv.Close()
	id := h.open("acme", alice)

	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set(Header, id)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	rd := bufio.NewReader(resp.Body)
	for _, ev := range []string{"one", "two"} {
		h.sdk.events <- ev // the handler blocks until it has flushed the previous one
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "data: "+ev+"\n", line, "each event arrives while the stream is open")
		_, _ = rd.ReadString('\n')
	}
}

// TestAdmitWriterStreams checks the writer of a new session's answer: a
// flush admits the session, reaches the connection, and
// http.ResponseController finds it.
func TestAdmitWriterStreams(t *testing.T) {
	h := newHarness(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := w.(http.Flusher)
		require.True(t, ok, "SDKs look for http.Flusher")
		w.Header().Set(Header, "streamed")
		w.Header().Set("Content-Type", "text/event-stream")
		require.NoError(t, http.NewResponseController(w).Flush(), "the flush reaches the connection")
		require.NotNil(t, h.stored("acme", "streamed"), "the first flush admitted the session")
		_, err := w.Write([]byte("data: {}\n\n"))
		require.NoError(t, err)
		require.NoError(t, http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)), "Unwrap reaches the connection")
	})
	g, err := New(handler, Config{Sessions: h.mem.Sessions(), Tenants: h.mem.Tenants(), Ender: h.sdk})
	require.NoError(t, err)
	defer g.Close(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.ServeHTTP(w, h.request(http.MethodPost, "acme", alice, "", initBody))
	}))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(initBody))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "streamed", resp.Header.Get(Header))
}

func TestConfig(t *testing.T) {
	h := newHarness(t)
	for _, cfg := range []Config{
		{Tenants: h.mem.Tenants(), Ender: h.sdk},
		{Sessions: h.mem.Sessions(), Ender: h.sdk},
		{Sessions: h.mem.Sessions(), Tenants: h.mem.Tenants()},
	} {
		_, err := New(h.sdk, cfg)
		assert.Error(t, err)
	}
	_, err := New(nil, Config{Sessions: h.mem.Sessions(), Tenants: h.mem.Tenants(), Ender: h.sdk})
	assert.Error(t, err)
	g, err := New(h.sdk, Config{Sessions: h.mem.Sessions(), Tenants: h.mem.Tenants(), Ender: h.sdk, TTL: time.Minute})
	require.NoError(t, err)
	defer g.Close(context.Background())
	assert.Equal(t, 15*time.Second, g.touchEvery, "TouchEvery is at most a quarter of the TTL")
	assert.Equal(t, DefaultPerCaller, g.perCaller)
}

// headerProbe calls probe when the answer's status is written, the moment
// the client may see it.
type headerProbe struct {
	*httptest.ResponseRecorder
	probe func()
}

func (p *headerProbe) WriteHeader(code int) {
	p.probe()
	p.ResponseRecorder.WriteHeader(code)
}

// TestDeleteFreesThePlaceBeforeTheAnswer: the record of a deleted session
// is gone when the answer's status is written, not after the handler
// returns, so that a client that opens a session as soon as it reads the
// answer to its DELETE finds the place free. Over the network that was a
// race; here the probe looks at the store exactly when the status goes
// out, for a session the guard holds and for one only the store holds.
func TestDeleteFreesThePlaceBeforeTheAnswer(t *testing.T) {
	for _, held := range []bool{true, false} {
		h := newHarness(t)
		id := h.open("acme", alice)
		if !held {
			h.guard.mu.RLock()
			s := h.guard.live[id]
			h.guard.mu.RUnlock()
			h.guard.drop(s)
		}
		var storedAtAnswer *store.Session
		probed := false
		w := &headerProbe{ResponseRecorder: httptest.NewRecorder(), probe: func() {
			probed = true
			storedAtAnswer = h.stored("acme", id)
		}}
		h.guard.ServeHTTP(w, h.request(http.MethodDelete, "acme", alice, id, ""))
		require.True(t, probed, "the handler wrote a status")
		assert.Equal(t, http.StatusNoContent, w.Code)
		assert.Nil(t, storedAtAnswer, "held by the guard: %v; the record was still there when the answer left", held)
	}
}
