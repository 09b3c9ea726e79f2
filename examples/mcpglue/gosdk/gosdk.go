// Package gosdk puts the official MCP Go SDK
// (github.com/modelcontextprotocol/go-sdk) behind the tenancy library's
// session guard (package mcpsession), so that every MCP session belongs to
// the tenant and the caller that opened it:
//
//	server := mcp.NewServer(&mcp.Implementation{Name: "seed", Version: "1.0.0"}, nil)
//	mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, whoami)
//	mcpHandler, err := gosdk.New(server, gosdk.Config{
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
//   - fills the SDK's auth.TokenInfo from the claims the bearer middleware
//     verified (UserID is the subject; Extra holds "issuer" and "tenant"),
//     so that the SDK's own check that a session is used by the user who
//     opened it is on too, and tool handlers find the current request's
//     caller in req.Extra.TokenInfo;
//   - replaces the SDK's DNS rebinding protection, which refuses the
//     tenants' hosts, with [mcpglue.Hosts];
//   - ends sessions in the SDK when the guard says so, and tells the guard
//     when the SDK ends one on its own (its SessionTimeout, a failed
//     initialize, a broken keepalive).
//
// What a tool handler may read: the SDK runs it with the context of the
// request that opened the session, so [tenant.FromContext] gives the
// session's tenant, which the guard guarantees is the current request's
// (as it was when the session opened: read the tenant again for settings
// that may have changed since); req.Extra.TokenInfo is the current
// request's caller, nil for an anonymous one; [oidcx.ClaimsFromContext]
// gives the claims of the token that opened the session (the same caller,
// but that token may have expired since).
package gosdk

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/seedmcp/tenancy/examples/mcpglue"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
)

// Config configures [New].
type Config struct {
	// Guard configures the session guard; New sets its Ender. Sessions and
	// Tenants are required.
	Guard mcpsession.Config
	// HTTP configures the SDK's Streamable HTTP handler. Its
	// DisableLocalhostProtection is always set: Hosts takes its place.
	// default: the SDK's defaults (event streams, no session timeout of
	// its own: the guard's TTL ends idle sessions)
	HTTP *mcp.StreamableHTTPOptions
	// Hosts is the protection against DNS rebinding.
	// default: loopback names, names under .localhost and the tenants'
	// custom domains
	Hosts mcpglue.Hosts
}

// Handler is the SDK's Streamable HTTP handler behind the session guard.
// Mount it behind the tenant middleware and the bearer check; register
// HandleEvent with the tenancy service and call Close (the guard's) before
// the Redis client is closed.
type Handler struct {
	*mcpsession.Guard
	server  *mcp.Server
	outer   http.Handler
	mu      sync.Mutex
	tracked map[string]*mcp.ServerSession // by session ID, until closed
}

var (
	_ http.Handler       = (*Handler)(nil)
	_ mcpsession.Ender   = (*Handler)(nil)
	_ auth.TokenVerifier = tokenInfo
)

// New returns server's Streamable HTTP handler behind the session guard.
// It adds a receiving middleware to server, which follows the sessions
// the SDK opens.
func New(server *mcp.Server, cfg Config) (*Handler, error) {
	if server == nil {
		return nil, errors.New("gosdk: the server is nil")
	}
	opts := mcp.StreamableHTTPOptions{}
	if cfg.HTTP != nil {
		opts = *cfg.HTTP
	}
	opts.DisableLocalhostProtection = true
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &opts)
	h := &Handler{server: server, tracked: map[string]*mcp.ServerSession{}}
	cfg.Guard.Ender = h
	g, err := mcpsession.New(withTokenInfo(sdk), cfg.Guard)
	if err != nil {
		return nil, err
	}
	h.Guard = g
	h.outer = cfg.Hosts.Check(g)
	server.AddReceivingMiddleware(h.follow)
	return h, nil
}

// ServeHTTP checks the Host, then serves r through the guard.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.outer.ServeHTTP(w, r) }

// follow is a receiving middleware that notes the session of every
// initialize request, and tells the guard when the SDK closes it.
func (h *Handler) follow(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if ss, ok := req.GetSession().(*mcp.ServerSession); ok && method == "initialize" {
			h.track(ss)
		}
		return next(ctx, method, req)
	}
}

// track follows ss until it is closed, whatever closes it.
func (h *Handler) track(ss *mcp.ServerSession) {
	id := ss.ID()
	if id == "" {
		return
	}
	h.mu.Lock()
	_, known := h.tracked[id]
	h.tracked[id] = ss
	h.mu.Unlock()
	if known {
		return
	}
	go func() {
		_ = ss.Wait()
		h.mu.Lock()
		delete(h.tracked, id)
		h.mu.Unlock()
		h.Ended(id)
	}()
}

// EndSession closes the SDK's session with this ID, which ends its event
// streams; it implements [mcpsession.Ender]. The SDK waits for the
// session's requests to return.
func (h *Handler) EndSession(id string) {
	h.mu.Lock()
	ss := h.tracked[id]
	h.mu.Unlock()
	if ss == nil {
		for s := range h.server.Sessions() {
			if s.ID() == id {
				ss = s
				break
			}
		}
	}
	if ss != nil {
		_ = ss.Close()
	}
}

// Holds reports whether the SDK holds a session with this ID.
func (h *Handler) Holds(id string) bool {
	for s := range h.server.Sessions() {
		if s.ID() == id {
			return true
		}
	}
	return false
}

// withTokenInfo gives the SDK the auth.TokenInfo of every request that
// carries verified claims. Only the SDK's own bearer middleware can put it
// in the request's context, so that middleware is used with a verifier
// that reports the claims the tenant's bearer check has already verified.
func withTokenInfo(sdk http.Handler) http.Handler {
	withInfo := auth.RequireBearerToken(tokenInfo, &auth.RequireBearerTokenOptions{
		AllowMissingExpiration: true,
		// The token's lifetime was checked by the tenant's bearer check,
		// with its own clock skew: the SDK must not second-guess it.
		ClockSkew: time.Hour,
	})(sdk)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := oidcx.ClaimsFromContext(r.Context()); ok {
			withInfo.ServeHTTP(w, r)
			return
		}
		sdk.ServeHTTP(w, r)
	})
}

// tokenInfo reports the claims verified for the request as the SDK's
// TokenInfo.
func tokenInfo(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	c, ok := oidcx.ClaimsFromContext(r.Context())
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{
		UserID:     c.Subject,
		Scopes:     c.Scopes,
		Expiration: c.Expiry,
		Extra:      map[string]any{"issuer": c.Issuer, "tenant": c.TenantID},
	}, nil
}
