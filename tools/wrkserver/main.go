// Command wrkserver serves a trivial handler, bare or behind the tenancy
// middleware, so that a load tool such as wrk can measure what the
// middleware costs on a cache hit:
//
//	go run ./tools/wrkserver -addr 127.0.0.1:8081 -mode bare &
//	go run ./tools/wrkserver -addr 127.0.0.1:8082 -mode tenancy &
//	wrk -t2 -c64 -d20s -H 'X-Tenant-ID: acme' http://127.0.0.1:8081/mcp
//	wrk -t2 -c64 -d20s -H 'X-Tenant-ID: acme' http://127.0.0.1:8082/mcp
//
// In tenancy mode the tenants live in an embedded Redis (miniredis); once
// the cache is warm, requests make no Redis command at all, so the figures
// are those of the middleware.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/tenant"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	mode := flag.String("mode", "bare", "bare or tenancy")
	flag.Parse()

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	var h http.Handler = hello
	switch *mode {
	case "bare":
	case "tenancy":
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			log.Fatal(err)
		}
		defer m.Close()
		svc, err := tenancy.New(tenancy.Config{
			Redis:          redis.NewClient(&redis.Options{Addr: m.Addr()}),
			MultiTenant:    true,
			Identification: tenancy.ByHeader,
			Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
		if err != nil {
			log.Fatal(err)
		}
		defer svc.Close()
		if _, err := svc.Store().Tenants().Create(context.Background(), &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}); err != nil {
			log.Fatal(err)
		}
		h = svc.Middleware(hello)
	default:
		log.Fatalf("wrkserver: -mode must be bare or tenancy, not %q", *mode)
	}

	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	log.Printf("wrkserver: %s mode on http://%s", *mode, *addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
