package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/examples/internal/redisurl"
	"github.com/seedmcp/tenancy/examples/mcpglue/gosdk"
	"github.com/seedmcp/tenancy/examples/metrics"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/tenant"
)

// server is the example server: an http.Handler plus what it must release
// when it stops.
type server struct {
	handler http.Handler
	svc     *tenancy.Service
	rdb     redis.UniversalClient
	mcp     *gosdk.Handler
	// sessionsClosed makes closeSessions run once, every later call
	// waiting until it is over (the guard's Close returns at once when
	// called again).
	sessionsClosed sync.Once
	// proxy is each tenant's OAuth authorization server.
	proxy *oauthproxy.Proxy
	log   *slog.Logger
	// metrics counts requests by tenant and status; nil unless
	// METRICS_ENABLED.
	metrics *metrics.Metrics
	// release closes what the server opened itself (a Redis client, the
	// embedded Redis), in reverse order.
	release []func()
}

// newServer wires the server from cfg. It connects to cfg.Tenancy.Redis
// when set, otherwise to REDIS_URL, otherwise to an embedded miniredis,
// which it announces in the log. Call Close when done.
func newServer(cfg config) (_ *server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tenancy.Logger == nil {
		cfg.Tenancy.Logger = cfg.Logger
	}
	s := &server{log: cfg.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.connect(&cfg); err != nil {
		return nil, err
	}
	s.rdb = cfg.Tenancy.Redis
	if cfg.Metrics {
		if s.metrics, err = metrics.New(metrics.Config{}); err != nil {
			return nil, err
		}
		cfg.Tenancy.OnRefused = countRefusals(s.metrics, cfg.Tenancy.OnRefused, cfg.Tenancy.Logger)
	}
	if s.svc, err = tenancy.New(cfg.Tenancy); err != nil {
		return nil, err
	}
	s.release = append(s.release, func() { _ = s.svc.Close() })
	if s.metrics != nil {
		// A deleted tenant's series go with it.
		s.svc.OnEvent(s.metrics.HandleEvent)
	}

	urls, err := s.svc.URLs(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server: PUBLIC_URL: %w", err)
	}
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{
		Verifier:               s.svc.Verifier(),
		URLs:                   urls,
		InsecureAllowAnonymous: !cfg.AuthRequired,
		Logger:                 cfg.Logger,
		// Each refusal is counted in the tenant's usage and written to
		// its audit trail (at most once a second per reason).
		OnRefused: func(_ *http.Request, t *tenant.Tenant, reason string) { s.svc.AuthRefused(t.ID, reason) },
	})
	if err != nil {
		return nil, err
	}
	// Each tenant's OAuth authorization server, as Seed runs one: MCP
	// clients register with it and log in through it at the tenant's own
	// provider. The protected-resource metadata names it for every tenant
	// whose proxy is on (oidc.clientId set), the tenant's issuer for the
	// others.
	if s.proxy, err = s.svc.OAuthProxy(oauthproxy.Config{URLs: urls}); err != nil {
		return nil, err
	}
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls, AuthorizationServers: s.proxy.AuthorizationServers, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	if s.mcp, err = newMCPHandler(s.svc, allowedHosts(cfg, s.svc.Config()), cfg.Logger); err != nil {
		return nil, err
	}
	// A suspended or deleted tenant's sessions end on every replica.
	s.svc.OnEvent(s.mcp.HandleEvent)
	s.handler = s.routes(cfg, bearer, meta)
	return s, nil
}

// routes returns the server's routes (the package documentation lists
// them): health and admin outside any tenant, everything else behind the
// tenant middleware and rate limit, relative to the tenant's base.
func (s *server) routes(cfg config, bearer func(http.Handler) http.Handler, meta http.Handler) http.Handler {
	scoped := http.NewServeMux()
	// The authorization server: /oauth/register, authorize, callback,
	// token and revoke, and its metadata where it lies under the
	// tenant's base.
	scoped.Handle("/oauth/", s.proxy)
	scoped.Handle(oauthproxy.MetadataPath, s.proxy)
	scoped.Handle(oauthproxy.OpenIDConfigurationPath, s.proxy)
	// The host check runs before the bearer check too, so that a foreign
	// Host is refused whether or not a token came with it.
	scoped.Handle("/mcp", allowedHosts(cfg, s.svc.Config()).Check(bearer(s.mcp)))
	scoped.HandleFunc("/", notFound)

	// measure sits inside the tenant middleware, where the tenant is
	// known; refusals never get that far and are counted by the
	// OnRefused hook instead (see newServer).
	measure := func(h http.Handler) http.Handler { return h }
	mux := http.NewServeMux()
	if s.metrics != nil {
		measure = s.metrics.Measure
		// Outside the tenant middleware: the metrics of every tenant.
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("/admin/", s.svc.Admin())
	// The metadata's route depends on the mode: in path mode its URL lies
	// outside the tenant's base (/.well-known/oauth-protected-resource/<id>/mcp).
	mux.Handle(s.svc.MetadataRoute(measure(meta)))
	// The authorization server's metadata at the well-known URLs outside
	// the tenant's base: in path mode /.well-known/oauth-authorization-server/<id>
	// and /.well-known/openid-configuration/<id>.
	for _, rt := range s.svc.OAuthMetadataRoutes(measure(s.proxy)) {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	mux.Handle("/", s.svc.Middleware(measure(scoped)))
	return mux
}

// countRefusals returns an OnRefused hook that counts each refusal in m and
// then hands it to next, or logs it as the library does by default when
// next is nil, so that enabling metrics keeps the audit lines.
func countRefusals(m *metrics.Metrics, next func(*http.Request, middleware.Refusal), logger *slog.Logger) func(*http.Request, middleware.Refusal) {
	if next == nil {
		next = middleware.LogRefusal(logger)
	}
	return func(r *http.Request, f middleware.Refusal) {
		m.Refused(r, f)
		next(r, f)
	}
}

// connect sets cfg.Tenancy.Redis when the caller did not. The embedded
// Redis needs a password of its own, never logged.
func (s *server) connect(cfg *config) error {
	if cfg.Tenancy.Redis != nil {
		return nil
	}
	if cfg.RedisURL != "" {
		o, err := redisurl.Parse(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("server: REDIS_URL: %w", err)
		}
		rdb, err := redisurl.NewClient(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("server: REDIS_URL: %w", err)
		}
		s.release = append(s.release, func() { _ = rdb.Close() })
		cfg.Tenancy.Redis = rdb
		cfg.Logger.Info("server: using Redis from REDIS_URL", "redis", redisurl.Describe(o))
		return nil
	}
	m, err := miniredis.Run()
	if err != nil {
		return fmt.Errorf("server: starting the embedded Redis: %w", err)
	}
	s.release = append(s.release, m.Close)
	// It listens on a loopback port: a password that only this process
	// knows keeps the machine's other processes and users out of every
	// tenant's data.
	password := rand.Text()
	m.RequireAuth(password)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), Password: password})
	s.release = append(s.release, func() { _ = rdb.Close() })
	cfg.Tenancy.Redis = rdb
	cfg.Logger.Warn("server: REDIS_URL is unset: using an embedded Redis (miniredis); its data is lost when the server stops",
		"addr", m.Addr())
	return nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// closeSessions ends every MCP session and frees its place in its
// tenant's store, which also ends the sessions' event streams: an
// http.Server shutting down waits for open connections, and a client's
// standalone event stream would otherwise keep it waiting. It runs before
// the Redis client is closed. It runs once; a call made while it runs
// (Close, after a Shutdown that did not wait for it) returns when it is
// over, so that the Redis client is never closed under it.
func (s *server) closeSessions() {
	if s.mcp == nil {
		return
	}
	s.sessionsClosed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.mcp.Close(ctx); err != nil {
			s.log.Warn("server: ending the MCP sessions", "error", err)
		}
	})
}

// Close ends the MCP sessions, freeing them in the store, and then
// releases what the server opened (the Redis client last but the embedded
// Redis).
func (s *server) Close() {
	s.closeSessions()
	for i := len(s.release) - 1; i >= 0; i-- {
		s.release[i]()
	}
	s.release = nil
}

// healthz answers 200 when Redis answers a PING in time, 503 otherwise.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.log.WarnContext(ctx, "server: health check: Redis does not answer", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// notFound answers a route that does not exist, as JSON like every other
// answer.
func notFound(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
}
