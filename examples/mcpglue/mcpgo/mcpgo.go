// Package mcpgo puts the Streamable HTTP server of
// github.com/mark3labs/mcp-go behind the tenancy library's session guard
// (package mcpsession), so that every MCP session belongs to the tenant and
// the caller that opened it:
//
//	s := server.NewMCPServer("seed", "1.0.0", server.WithToolCapabilities(false))
//	s.AddTool(mcp.NewTool("whoami"), whoami)
//	mcpHandler, err := mcpgo.New(s, mcpgo.Config{
//		Guard: mcpsession.Config{
//			Sessions: svc.Store().Sessions(),
//			Tenants:  svc.Store().Tenants(),
//			TTL:      svc.Config().SessionTTL,
//		},
//	})
//	svc.OnEvent(mcpHandler.HandleEvent)
//	defer mcpHandler.Close(context.Background()) // before the Redis client is closed
//	mux.Handle("/mcp", svc.Middleware(bearer(mcpHandler)))
//
// Besides the guard, the handler:
//   - gives the server a session ID manager of its own that knows the
//     sessions whose ID the server's answer carried to a client and
//     forgets the ended ones (mcp-go's default manager accepts any
//     well-formed ID), and that tells the guard when the server ends a
//     session itself (its idle sweeper, server.WithSessionIdleTTL);
//   - answers 400 to a GET without a session ID, as the official Go SDK
//     does, and 404 to a GET naming a session the server did not issue
//     (another replica's), as mcp-go answers a POST: mcp-go would open an
//     event stream for either, which no session limit counts and the
//     guard does not hold, so would not end on a tenant's suspension or
//     on Close;
//   - replaces mcp-go's DNS rebinding protection, which refuses the
//     tenants' hosts, with [mcpglue.Hosts];
//   - ends sessions in the server when the guard says so.
//
// What a tool handler may read: mcp-go runs it with the context of the
// request that carries the call, so [tenant.FromContext] and
// [oidcx.ClaimsFromContext] give the current request's tenant and caller
// (no claims for an anonymous caller).
package mcpgo

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/mark3labs/mcp-go/server"

	"github.com/seedmcp/tenancy/examples/mcpglue"
	"github.com/seedmcp/tenancy/mcpsession"
)

// Config configures [New].
type Config struct {
	// Guard configures the session guard; New sets its Ender. Sessions and
	// Tenants are required.
	Guard mcpsession.Config
	// Options configure mcp-go's Streamable HTTP server. New adds its own
	// session ID manager and switches mcp-go's localhost protection off:
	// Hosts takes its place.
	Options []server.StreamableHTTPOption
	// Hosts is the protection against DNS rebinding.
	// default: loopback names, names under .localhost and the tenants'
	// custom domains
	Hosts mcpglue.Hosts
}

// Handler is mcp-go's Streamable HTTP server behind the session guard.
// Mount it behind the tenant middleware and the bearer check; register
// HandleEvent with the tenancy service and call Close (the guard's) before
// the Redis client is closed.
type Handler struct {
	*mcpsession.Guard
	srv   *server.StreamableHTTPServer
	outer http.Handler
	ids   *sessionIDs
}

var (
	_ http.Handler            = (*Handler)(nil)
	_ mcpsession.Ender        = (*Handler)(nil)
	_ server.SessionIdManager = (*sessionIDs)(nil)
)

// New returns s's Streamable HTTP server behind the session guard.
func New(s *server.MCPServer, cfg Config) (*Handler, error) {
	if s == nil {
		return nil, errors.New("mcpgo: the server is nil")
	}
	h := &Handler{ids: &sessionIDs{live: map[string]struct{}{}}}
	opts := append(slices.Clone(cfg.Options),
		server.WithSessionIdManager(h.ids),
		server.WithDisableLocalhostProtection(true))
	h.srv = server.NewStreamableHTTPServer(s, opts...)
	cfg.Guard.Ender = h
	g, err := mcpsession.New(http.HandlerFunc(h.serveSDK), cfg.Guard)
	if err != nil {
		return nil, err
	}
	h.Guard = g
	h.ids.ended = g.Ended
	h.outer = cfg.Hosts.Check(g)
	return h, nil
}

// ServeHTTP checks the Host, then serves r through the guard.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.outer.ServeHTTP(w, r) }

// serveSDK serves a request the guard let through: a GET must name a
// session the server issued (mcp-go does not check the session of a GET),
// and the session ID that the answer to a request naming none carries is
// recorded as the answer leaves.
func (h *Handler) serveSDK(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get(mcpsession.Header); id != "" {
		if r.Method == http.MethodGet && !h.ids.holds(id) {
			http.Error(w, "Invalid session ID", http.StatusNotFound)
			return
		}
		h.srv.ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodGet {
		http.Error(w, "Bad Request: GET requires an Mcp-Session-Id header", http.StatusBadRequest)
		return
	}
	iw := &issuing{ResponseWriter: w, ids: h.ids}
	h.srv.ServeHTTP(iw, r)
	iw.note() // an answer not written yet leaves once the handler returns
}

// Holds reports whether the server holds a session with this ID.
func (h *Handler) Holds(id string) bool { return h.ids.holds(id) }

// EndSession ends the server's session with this ID; it implements
// [mcpsession.Ender]. mcp-go ends one session only when a client DELETEs
// it, so the handler sends it that DELETE itself: the server forgets the
// ID and every state it keeps for it. The session's event streams were
// cancelled by the guard.
func (h *Handler) EndSession(id string) {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodDelete, "/", http.NoBody)
	if err != nil {
		return // a constant method and URL: it cannot fail
	}
	r.Header.Set(mcpsession.Header, id)
	h.srv.ServeHTTP(discard{header: http.Header{}}, r)
	h.ids.forget(id) // in case mcp-go refused the DELETE
}

// sessionIDs is the session ID manager of the server: it issues random
// IDs and knows the sessions that were issued to a client (the answer to
// their initialize carried the ID) and have not ended, so that mcp-go
// itself answers 404 to any other ID. An ID generated for an answer that
// never carried it (its client hung up first) is not kept.
type sessionIDs struct {
	mu    sync.Mutex
	live  map[string]struct{}
	ended func(id string) // the guard's Ended
}

var errUnknownSession = errors.New("mcpgo: unknown session")

// Generate returns the ID of a new session: 128 random bits, in a form the
// session store accepts. The ID is live once an answer carries it
// (issuing).
func (m *sessionIDs) Generate() string { return rand.Text() }

// issue makes id live.
func (m *sessionIDs) issue(id string) {
	m.mu.Lock()
	m.live[id] = struct{}{}
	m.mu.Unlock()
}

// Validate accepts the IDs of live sessions only.
func (m *sessionIDs) Validate(id string) (isTerminated bool, err error) {
	if !m.holds(id) {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate forgets a session that ends (a client's DELETE, the guard's
// EndSession, mcp-go's idle sweeper) and tells the guard, which frees its
// place if it still holds it.
func (m *sessionIDs) Terminate(id string) (isNotAllowed bool, err error) {
	if m.forget(id) && m.ended != nil {
		m.ended(id)
	}
	return false, nil
}

func (m *sessionIDs) holds(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.live[id]
	return ok
}

// forget removes id and reports whether it was live.
func (m *sessionIDs) forget(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.live[id]
	delete(m.live, id)
	return ok
}

// issuing is the ResponseWriter of a request without a session ID: the
// first time the answer is about to leave, the session ID it carries, if
// any, becomes live. It keeps streaming intact (mcp-go finds Flush with a
// type assertion).
type issuing struct {
	http.ResponseWriter
	ids  *sessionIDs
	once sync.Once
}

func (w *issuing) note() {
	w.once.Do(func() {
		if id := w.Header().Get(mcpsession.Header); id != "" {
			w.ids.issue(id)
		}
	})
}

func (w *issuing) WriteHeader(code int) {
	w.note()
	w.ResponseWriter.WriteHeader(code)
}

func (w *issuing) Write(b []byte) (int, error) {
	w.note()
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *issuing) Flush() {
	w.note()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *issuing) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ http.Flusher = (*issuing)(nil)

// discard is the ResponseWriter of the DELETE that EndSession sends.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
