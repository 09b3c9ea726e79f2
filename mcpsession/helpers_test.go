package mcpsession

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// fakeSDK is an MCP handler with one session table for all tenants, as
// the SDKs have: it serves any request that names a session it knows.
type fakeSDK struct {
	mu       sync.Mutex
	sessions map[string]bool
	next     int
	reached  int      // requests that reached it
	ended    []string // sessions ended through EndSession
	// silent makes initialize set the session header without writing
	// anything, leaving the answer to net/http.
	silent bool
	// events feeds the event stream of a GET; each value is one event.
	events chan string
	// onAnswer runs right after initialize wrote its answer's header.
	onAnswer func(id string)
}

func newFakeSDK() *fakeSDK {
	return &fakeSDK{sessions: map[string]bool{}, events: make(chan string)}
}

// EndSession implements Ender.
func (f *fakeSDK) EndSession(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, id)
	f.ended = append(f.ended, id)
}

func (f *fakeSDK) holds(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[id]
}

func (f *fakeSDK) reachedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reached
}

func (f *fakeSDK) endedSessions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ended...)
}

func (f *fakeSDK) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reached++
	id := r.Header.Get(Header)
	known := f.sessions[id]
	f.mu.Unlock()
	switch {
	case r.Header.Get("Mcp-Protocol-Version") >= "2026-07-28":
		// A protocol without sessions: whatever session the request
		// names, it is served, here as a subscriptions/listen stream.
		f.stream(w, r)
	case id == "" && r.Method == http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"subscriptions/listen"`) {
			// A protocol without sessions: the stream names none.
			f.stream(w, r)
			return
		}
		if !strings.Contains(string(body), `"initialize"`) {
			http.Error(w, "session ID required", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.next++
		id = fmt.Sprintf("sess-%d", f.next)
		f.sessions[id] = true
		f.mu.Unlock()
		w.Header().Set(Header, id)
		if f.silent {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if f.onAnswer != nil {
			f.onAnswer(id)
		}
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	case id == "":
		http.Error(w, "session ID required", http.StatusBadRequest)
	case !known:
		http.Error(w, "session not found", http.StatusNotFound)
	case r.Method == http.MethodDelete:
		f.EndSession(id)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet:
		f.stream(w, r)
	default:
		who := map[string]string{}
		if t, ok := tenant.FromContext(r.Context()); ok {
			who["tenant"] = t.ID
		}
		if c, ok := oidcx.ClaimsFromContext(r.Context()); ok {
			who["subject"] = c.Subject
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": 2, "result": who})
	}
}

// stream serves an event stream of f.events until the request ends.
func (f *fakeSDK) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		panic(err)
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-f.events:
			fmt.Fprintf(w, "data: %s\n\n", ev)
			if err := rc.Flush(); err != nil {
				panic(err)
			}
		}
	}
}

// countingSessions counts the calls to a session store and can make it
// fail.
type countingSessions struct {
	store.Sessions
	admits, gets, touches, deletes atomic.Int64
	down                           atomic.Bool
}

var errDown = errors.New("store down")

func (c *countingSessions) Admit(ctx context.Context, tenantID, id string, o store.Owner, l store.SessionLimits) (*store.Session, error) {
	c.admits.Add(1)
	if c.down.Load() {
		return nil, errDown
	}
	return c.Sessions.Admit(ctx, tenantID, id, o, l)
}

func (c *countingSessions) Get(ctx context.Context, tenantID, id string) (*store.Session, error) {
	c.gets.Add(1)
	if c.down.Load() {
		return nil, errDown
	}
	return c.Sessions.Get(ctx, tenantID, id)
}

func (c *countingSessions) Touch(ctx context.Context, tenantID, id string) error {
	c.touches.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Sessions.Touch(ctx, tenantID, id)
}

func (c *countingSessions) Delete(ctx context.Context, tenantID, id string) error {
	c.deletes.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Sessions.Delete(ctx, tenantID, id)
}

// harness is a guard in front of a fakeSDK, on a memstore with a hand-moved
// clock shared by the store and the guard.
type harness struct {
	t        *testing.T
	clock    *testclock.Clock
	mem      *memstore.Store
	sessions *countingSessions
	sdk      *fakeSDK
	guard    *Guard
}

const testTTL = time.Hour

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	clock := testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC))
	mem := memstore.New(memstore.Config{Clock: clock.Now, SessionTTL: testTTL})
	h := &harness{t: t, clock: clock, mem: mem, sessions: &countingSessions{Sessions: mem.Sessions()}, sdk: newFakeSDK()}
	for _, tn := range []struct {
		id  string
		max int
	}{{"acme", 3}, {"globex", 0}} {
		_, err := mem.Tenants().Create(t.Context(), &tenant.Tenant{ID: tn.id, Name: tn.id, Status: tenant.StatusActive,
			Limits: tenant.Limits{MaxSessions: tn.max}})
		require.NoError(t, err)
	}
	cfg := Config{Sessions: h.sessions, Tenants: mem.Tenants(), Ender: h.sdk, TTL: testTTL, Now: clock.Now, PerCaller: 2,
		Logger: slog.New(slog.DiscardHandler)}
	for _, m := range mutate {
		m(&cfg)
	}
	g, err := New(h.sdk, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	h.guard = g
	return h
}

// caller is who sends a request: a subject of an issuer, or nobody.
type caller struct{ iss, sub string }

var (
	alice = caller{"https://idp.acme.example", "alice"}
	carol = caller{"https://idp.acme.example", "carol"}
	bob   = caller{"https://idp.globex.example", "bob"}
	anon  = caller{}
)

func (c caller) owner() store.Owner { return store.Owner{Issuer: c.iss, Subject: c.sub} }

// request builds a request as it reaches the guard behind the tenant
// middleware and the bearer check.
func (h *harness) request(method, tenantID string, who caller, session, body string) *http.Request {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "/mcp", rd)
	if session != "" {
		r.Header.Set(Header, session)
	}
	t, err := h.mem.Tenants().Get(h.t.Context(), tenantID)
	require.NoError(h.t, err)
	ctx := tenant.NewContext(r.Context(), t)
	if who != anon {
		ctx = oidcx.NewContext(ctx, &oidcx.Claims{TenantID: tenantID, Issuer: who.iss, Subject: who.sub})
	}
	return r.WithContext(ctx)
}

// settle waits for the ends and checks the guard runs in the background.
func (h *harness) settle() { h.guard.work.Wait() }

func (h *harness) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.guard.ServeHTTP(w, r)
	return w
}

func (h *harness) do(method, tenantID string, who caller, session, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.serve(h.request(method, tenantID, who, session, body))
}

const initBody = `{"jsonrpc":"2.0","id":"init-1","method":"initialize","params":{}}`

// open opens a session and returns its ID.
func (h *harness) open(tenantID string, who caller) string {
	h.t.Helper()
	w := h.do(http.MethodPost, tenantID, who, "", initBody)
	require.Equal(h.t, http.StatusOK, w.Code, w.Body.String())
	id := w.Header().Get(Header)
	require.NotEmpty(h.t, id)
	return id
}

// stored returns the session's record, nil when the store does not hold
// it.
func (h *harness) stored(tenantID, id string) *store.Session {
	s, err := h.mem.Sessions().Get(h.t.Context(), tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	require.NoError(h.t, err)
	return s
}
