package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownTimeout bounds the wait for requests in flight on SIGINT or
// SIGTERM.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run reads the environment, serves until ctx is done, and shuts down
// gracefully. When ready is not nil it receives the listening address
// once the server accepts connections.
func run(ctx context.Context, logOut io.Writer, ready chan<- net.Addr) error {
	cfg, err := configFromEnv()
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logOut, nil))
	s, err := newServer(cfg)
	if err != nil {
		return err
	}
	defer s.Close()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("server: LISTEN_ADDR: %w", err)
	}
	srv := newHTTPServer(s)
	// Open event streams of MCP sessions would keep Shutdown waiting
	// until its deadline: close the sessions as shutdown starts.
	srv.RegisterOnShutdown(s.closeSessions)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	mode := "single-tenant"
	if cfg.Tenancy.MultiTenant {
		mode = string(s.svc.Config().Identification)
	}
	cfg.Logger.Info("server: listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL,
		"tenants", mode, "auth_required", cfg.AuthRequired, "admin_api", cfg.Tenancy.AdminAPIKey != "")
	if ready != nil {
		ready <- ln.Addr()
	}

	select {
	case err := <-done:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	cfg.Logger.Info("server: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
