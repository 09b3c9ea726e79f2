package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/examples/internal/redisurl"
	"github.com/seedmcp/tenancy/examples/mcpglue"
	"github.com/seedmcp/tenancy/examples/mcpglue/mcpgo"
	"github.com/seedmcp/tenancy/mcpsession"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/tenant"
)

// config is what the server reads from its environment.
type config struct {
	ListenAddr   string
	PublicURL    string
	RedisURL     string
	AuthRequired bool
	// Tenancy is the library's configuration; a Redis client set here is
	// used as is and never closed, which is how tests hand theirs over.
	Tenancy tenancy.Config
	Logger  *slog.Logger
}

// app is the server's handler and what it must release.
type app struct {
	http.Handler
	svc     *tenancy.Service
	mcp     *mcpgo.Handler
	log     *slog.Logger
	release []func() // in reverse order
}

// newApp wires the server.
func newApp(cfg config) (_ *app, err error) {
	a := &app{log: cfg.Logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if cfg.Tenancy.Redis == nil {
		if cfg.Tenancy.Redis, err = a.connect(cfg); err != nil {
			return nil, err
		}
	}
	cfg.Tenancy.Logger = cfg.Logger
	if a.svc, err = tenancy.New(cfg.Tenancy); err != nil {
		return nil, err
	}
	a.release = append(a.release, func() { _ = a.svc.Close() })
	urls, err := a.svc.URLs(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("mcpgoserver: PUBLIC_URL: %w", err)
	}
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: a.svc.Verifier(), URLs: urls,
		InsecureAllowAnonymous: !cfg.AuthRequired, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}

	s := server.NewMCPServer("tenancy-mcpgo-example", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami",
		mcp.WithDescription("Names the tenant of this MCP endpoint and the subject of the caller's token (empty when anonymous).")),
		whoami)
	hosts := mcpglue.Hosts{}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		hosts.Public = []string{u.Host}
	}
	if tc := a.svc.Config(); tc.MultiTenant && tc.Identification == tenancy.BySubdomain {
		hosts.BaseDomain = tc.BaseDomain
	}
	a.mcp, err = mcpgo.New(s, mcpgo.Config{
		Guard: mcpsession.Config{
			Sessions: a.svc.Store().Sessions(),
			Tenants:  a.svc.Store().Tenants(),
			TTL:      a.svc.Config().SessionTTL,
			Logger:   cfg.Logger,
		},
		Hosts: hosts,
	})
	if err != nil {
		return nil, err
	}
	a.svc.OnEvent(a.mcp.HandleEvent)

	mux := http.NewServeMux()
	mux.Handle("/admin/", a.svc.Admin())
	mux.Handle(a.svc.MetadataRoute(meta))
	mux.Handle("/mcp", a.svc.Middleware(bearer(a.mcp)))
	a.Handler = mux
	return a, nil
}

// whoami names the request's tenant and caller: mcp-go runs a tool with
// the context of the request that carries the call.
func whoami(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	out := map[string]string{"tenant": "", "subject": ""}
	if t, ok := tenant.FromContext(ctx); ok {
		out["tenant"] = t.ID
	}
	if c, ok := oidcx.ClaimsFromContext(ctx); ok {
		out["subject"] = c.Subject
	}
	return mcp.NewToolResultStructured(out, "tenant "+out["tenant"]+", subject "+out["subject"]), nil
}

// connect returns a client of REDIS_URL, or of an embedded miniredis.
func (a *app) connect(cfg config) (redis.UniversalClient, error) {
	if cfg.RedisURL != "" {
		rdb, err := redisurl.NewClient(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("mcpgoserver: REDIS_URL: %w", err)
		}
		a.release = append(a.release, func() { _ = rdb.Close() })
		return rdb, nil
	}
	m, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("mcpgoserver: starting the embedded Redis: %w", err)
	}
	a.release = append(a.release, m.Close)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	a.release = append(a.release, func() { _ = rdb.Close() })
	cfg.Logger.Warn("mcpgoserver: REDIS_URL is unset: using an embedded Redis (miniredis); its data is lost when the server stops")
	return rdb, nil
}

// closeSessions ends every MCP session and frees its place in the store.
func (a *app) closeSessions() {
	if a.mcp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.mcp.Close(ctx); err != nil {
		a.log.Warn("mcpgoserver: ending the MCP sessions", "error", err)
	}
}

// Close frees the MCP sessions, then releases the rest, the Redis client
// last.
func (a *app) Close() {
	a.closeSessions()
	for i := len(a.release) - 1; i >= 0; i-- {
		a.release[i]()
	}
	a.release = nil
}
