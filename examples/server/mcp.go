package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// sessionHeader is the header of the MCP Streamable HTTP transport that
// carries the session ID.
const sessionHeader = "Mcp-Session-Id"

// JSON-RPC error codes of the answers this handler writes itself. The
// -32000 to -32099 range is the implementation's (JSON-RPC 2.0 section
// 5.1).
const (
	codeSessionLimit   = -32000
	codeSessionUnknown = -32001
	codeUnavailable    = -32002
	// codeInvalidRequest is JSON-RPC's own "Invalid Request".
	codeInvalidRequest = -32600
)

// mcpConfig configures newMCPHandler.
type mcpConfig struct {
	// Sessions records every MCP session in its tenant's session store.
	Sessions store.Sessions
	// SessionTTL closes an idle session in the SDK, as the store lets its
	// record expire.
	SessionTTL time.Duration
	// Logger receives failures of the session store.
	Logger *slog.Logger
}

// mcpHandler serves /mcp with the MCP Go SDK, behind the tenant and bearer
// middleware, and keeps the SDK's sessions in step with the tenants'
// session stores.
//
// The SDK keeps one map of sessions for the whole process, shared by all
// tenants, and would serve any request that names a session it knows. So
// every request that carries a session ID is checked against the session
// store of the request's tenant first, and answered 404 when the tenant
// has no such session: a session ID of tenant A is unknown on tenant B,
// as are IDs that expired or were deleted with their tenant.
//
// The SDK assigns session IDs through ServerOptions.GetSessionID, which
// sees no request. So the handler chooses the ID itself before the SDK
// sees an initialize request, records it in the tenant's store (which
// enforces maxSessions atomically, before the SDK creates anything), and
// serves the request with a server of its own whose GetSessionID returns
// that ID. Every session the SDK can address is thus in a store, under the
// tenant that created it. Requests without a session ID that are not an
// initialize are served by a server without tools whose sessions have no
// ID (the SDK closes them after the request), so no tool is reachable
// without a recorded session.
type mcpHandler struct {
	cfg      mcpConfig
	sdk      http.Handler
	fallback *mcp.Server

	mu   sync.Mutex
	live map[string]liveSession // by session ID
}

// liveSession is a session the SDK holds, with the tenant it belongs to.
type liveSession struct {
	tenantID string
	session  *mcp.ServerSession
}

// pendingKey is the context key of a *pending.
type pendingKey struct{}

// pending is the session an initialize request is about to create.
type pending struct {
	tenantID  string
	sessionID string
	server    *mcp.Server // made by getServer on first use
}

func newMCPHandler(cfg mcpConfig) *mcpHandler {
	h := &mcpHandler{
		cfg: cfg,
		fallback: mcp.NewServer(implementation, &mcp.ServerOptions{
			GetSessionID: func() string { return "" },
		}),
		live: map[string]liveSession{},
	}
	sdk := mcp.NewStreamableHTTPHandler(h.getServer, &mcp.StreamableHTTPOptions{
		// Answers are plain JSON, which reads well with curl; the SDK
		// client accepts both forms.
		JSONResponse:   true,
		SessionTimeout: cfg.SessionTTL,
		// Replaced by hostAllowed, which also accepts the tenants' hosts.
		DisableLocalhostProtection: true,
		Logger:                     cfg.Logger,
	})
	// The SDK binds a session to the user that created it when the
	// request carries its auth.TokenInfo, which only its own bearer
	// middleware can set: that middleware is given the claims oidcx has
	// already verified.
	withUser := auth.RequireBearerToken(tokenInfoFromClaims, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(sdk)
	h.sdk = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := oidcx.ClaimsFromContext(r.Context()); ok {
			withUser.ServeHTTP(w, r)
			return
		}
		sdk.ServeHTTP(w, r)
	})
	return h
}

var implementation = &mcp.Implementation{Name: "tenancy-example", Version: "1.0.0"}

// tokenInfoFromClaims is an auth.TokenVerifier that reports the claims
// oidcx verified for the request: the token itself was checked already.
func tokenInfoFromClaims(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	c, ok := oidcx.ClaimsFromContext(r.Context())
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{UserID: c.Subject, Scopes: c.Scopes, Expiration: c.Expiry.Add(oidcx.DefaultSkew)}, nil
}

// getServer gives the SDK the server of the session an initialize request
// is about to create, and the fallback server for every other request.
func (h *mcpHandler) getServer(r *http.Request) *mcp.Server {
	p, ok := r.Context().Value(pendingKey{}).(*pending)
	if !ok {
		return h.fallback
	}
	if p.server == nil {
		p.server = newSessionServer(p.tenantID, p.sessionID)
	}
	return p.server
}

// whoami is the structured output of the whoami tool.
type whoami struct {
	Tenant  string `json:"tenant"`
	Subject string `json:"subject"`
}

// newSessionServer returns the server of one session of a tenant: its
// session ID is sessionID and its whoami tool names the tenant.
func newSessionServer(tenantID, sessionID string) *mcp.Server {
	s := mcp.NewServer(implementation, &mcp.ServerOptions{
		GetSessionID: func() string { return sessionID },
	})
	mcp.AddTool(s, &mcp.Tool{
		Name:        "whoami",
		Description: "Names the tenant of this MCP endpoint and the subject of the caller's token (empty when anonymous).",
	}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoami, error) {
		out := whoami{Tenant: tenantID}
		if req.Extra != nil && req.Extra.TokenInfo != nil {
			out.Subject = req.Extra.TokenInfo.UserID
		}
		return nil, out, nil
	})
	return s
}

func (h *mcpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	if id := r.Header.Get(sessionHeader); id != "" {
		h.serveSession(w, r, t, id)
		return
	}
	if r.Method != http.MethodPost {
		h.sdk.ServeHTTP(w, r) // the SDK's 400 or 405
		return
	}
	// The body is read here to find an initialize request; the SDK then
	// reads it again from memory. Its own limit is the same.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, mcp.DefaultMaxRequestBodyBytes))
	if err != nil {
		status := http.StatusBadRequest
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		writeRPCError(w, status, nil, codeInvalidRequest, "the request body could not be read")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	initID, ok := initializeID(body)
	if !ok {
		h.sdk.ServeHTTP(w, r)
		return
	}
	h.initialize(w, r, t, initID)
}

// initialize records a new session of tenant t in its store, which
// refuses it at the tenant's maxSessions, then lets the SDK create it.
func (h *mcpHandler) initialize(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, reqID json.RawMessage) {
	ctx := r.Context()
	p := &pending{tenantID: t.ID, sessionID: rand.Text()}
	user := ""
	if c, ok := oidcx.ClaimsFromContext(ctx); ok {
		user = c.Subject
	}
	_, err := h.cfg.Sessions.Create(ctx, t.ID, p.sessionID, user, t.Limits.MaxSessions)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLimit):
		writeRPCError(w, http.StatusForbidden, reqID, codeSessionLimit,
			"Session limit reached for this tenant: end a session (DELETE /mcp) and try again")
		return
	default:
		h.cfg.Logger.ErrorContext(ctx, "server: recording an MCP session", "tenant", t.ID, "error", err)
		w.Header().Set("Retry-After", "5")
		writeRPCError(w, http.StatusServiceUnavailable, reqID, codeUnavailable, "Session store unavailable")
		return
	}
	h.sdk.ServeHTTP(w, r.WithContext(context.WithValue(ctx, pendingKey{}, p)))
	h.adopt(p)
}

// adopt follows the session the SDK created for p until it closes, and
// then frees its place in the store. When the SDK created none (the
// initialize failed), the place is freed at once.
func (h *mcpHandler) adopt(p *pending) {
	var ss *mcp.ServerSession
	if p.server != nil {
		for s := range p.server.Sessions() {
			if s.ID() == p.sessionID && s.InitializeParams() != nil {
				ss = s
			}
		}
	}
	if ss == nil {
		h.release(p.tenantID, p.sessionID)
		return
	}
	h.mu.Lock()
	h.live[p.sessionID] = liveSession{tenantID: p.tenantID, session: ss}
	h.mu.Unlock()
	go func() {
		// Wait returns when the session is closed, whatever closed it: a
		// DELETE, the SDK's idle timeout, the tenant's deletion or the
		// server's shutdown.
		_ = ss.Wait()
		h.mu.Lock()
		delete(h.live, p.sessionID)
		h.mu.Unlock()
		h.release(p.tenantID, p.sessionID)
	}()
}

// release deletes a session from its tenant's store, on a context of its
// own: it runs after the request that ended the session is gone.
func (h *mcpHandler) release(tenantID, sessionID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.cfg.Sessions.Delete(ctx, tenantID, sessionID); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.cfg.Logger.Warn("server: freeing an MCP session", "tenant", tenantID, "error", err)
	}
}

// serveSession serves a request that names session id: only when the
// request's tenant has that session in its store, whose lifetime it then
// extends.
func (h *mcpHandler) serveSession(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, id string) {
	h.mu.Lock()
	l, held := h.live[id]
	h.mu.Unlock()
	if held && l.tenantID != t.ID {
		writeRPCError(w, http.StatusNotFound, nil, codeSessionUnknown, "Session not found")
		return
	}
	err := store.ValidKey(id)
	if err == nil {
		err = h.cfg.Sessions.Touch(r.Context(), t.ID, id)
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidKey):
		if held {
			// The record expired or was deleted: the SDK's session goes
			// too, so that the two never disagree for long.
			_ = l.session.Close()
		}
		writeRPCError(w, http.StatusNotFound, nil, codeSessionUnknown, "Session not found")
		return
	default:
		h.cfg.Logger.ErrorContext(r.Context(), "server: touching an MCP session", "tenant", t.ID, "error", err)
		w.Header().Set("Retry-After", "5")
		writeRPCError(w, http.StatusServiceUnavailable, nil, codeUnavailable, "Session store unavailable")
		return
	}
	if r.Method != http.MethodDelete {
		h.sdk.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	h.sdk.ServeHTTP(sw, r)
	if sw.status/100 == 2 {
		// The session's goroutine frees the place as well, but a client
		// that starts a new session right after its DELETE must find it
		// free already.
		h.release(t.ID, id)
	}
}

// closeTenant closes the SDK's sessions of a tenant, after its deletion.
func (h *mcpHandler) closeTenant(tenantID string) {
	h.closeWhere(func(l liveSession) bool { return l.tenantID == tenantID })
}

// closeAll closes every session the SDK holds.
func (h *mcpHandler) closeAll() {
	h.closeWhere(func(liveSession) bool { return true })
}

func (h *mcpHandler) closeWhere(match func(liveSession) bool) {
	var closing []*mcp.ServerSession
	h.mu.Lock()
	for _, l := range h.live {
		if match(l) {
			closing = append(closing, l.session)
		}
	}
	h.mu.Unlock()
	// Close runs outside the lock: it ends in the session's goroutine,
	// which takes it.
	for _, s := range closing {
		_ = s.Close()
	}
}

// initializeID reports whether body, a JSON-RPC message or batch, holds an
// initialize request, and returns that request's ID.
func initializeID(body []byte) (json.RawMessage, bool) {
	type message struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	var batch []message
	if err := json.Unmarshal(body, &batch); err != nil {
		var m message
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, false
		}
		batch = []message{m}
	}
	for _, m := range batch {
		if m.Method == "initialize" && len(m.ID) > 0 {
			return m.ID, true
		}
	}
	return nil, false
}

// rpcError is a JSON-RPC error response (JSON-RPC 2.0 section 5.1).
type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcErrorObject  `json:"error"`
}

type rpcErrorObject struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeRPCError writes a JSON-RPC error response with an HTTP status, as
// the Streamable HTTP transport does for requests it refuses. id is null
// when the request's ID is unknown.
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	writeJSON(w, status, rpcError{JSONRPC: "2.0", ID: id, Error: rpcErrorObject{Code: code, Message: msg}})
}

// statusWriter records the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
