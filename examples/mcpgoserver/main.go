// Command mcpgoserver is a multi-tenant MCP server built on
// github.com/mark3labs/mcp-go: the tenancy library's tenant middleware,
// each tenant's bearer check and protected-resource metadata, the admin
// API, and mcp-go's Streamable HTTP server behind the library's session
// guard (examples/mcpglue/mcpgo), with one tool, whoami. It is the second
// SDK the guard is shown with; examples/server is the full example on the
// official Go SDK.
//
//	MULTI_TENANT_ENABLED=true TENANT_ADMIN_API_KEY=change-me AUTH_REQUIRED=false go run ./examples/mcpgoserver
//
// It reads the tenancy variables (MULTI_TENANT_ENABLED, TENANT_*, OIDC_*,
// REDIS_SESSION_TTL, ...) and LISTEN_ADDR (default 127.0.0.1:8081),
// PUBLIC_URL (default http://<LISTEN_ADDR>), REDIS_URL (unset: an embedded
// miniredis, whose data is lost when the server stops) and AUTH_REQUIRED
// (default true).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/seedmcp/tenancy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Getenv, logger); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down: the MCP sessions are
// ended and freed first, then the HTTP server drains, then the stores go.
func run(ctx context.Context, getenv func(string) string, logger *slog.Logger) error {
	cfg, err := configFrom(getenv)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	a, err := newApp(cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("mcpgoserver: LISTEN_ADDR: %w", err)
	}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(a.closeSessions)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	logger.Info("mcpgoserver: listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL)
	select {
	case err := <-done:
		return fmt.Errorf("mcpgoserver: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("mcpgoserver: shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("mcpgoserver: %w", err)
	}
	return nil
}

// configFrom reads the configuration through getenv.
func configFrom(getenv func(string) string) (config, error) {
	tc, err := tenancy.ConfigFrom(getenv)
	if err != nil {
		return config{}, err
	}
	c := config{ListenAddr: getenv("LISTEN_ADDR"), PublicURL: getenv("PUBLIC_URL"), RedisURL: getenv("REDIS_URL"),
		AuthRequired: true, Tenancy: tc}
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:8081"
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.ListenAddr
	}
	if v := getenv("AUTH_REQUIRED"); v != "" {
		if c.AuthRequired, err = strconv.ParseBool(v); err != nil {
			return config{}, fmt.Errorf("mcpgoserver: AUTH_REQUIRED=%q is invalid: accepted values are true or false", v)
		}
	}
	return c, nil
}
