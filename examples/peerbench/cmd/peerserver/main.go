// Command peerserver serves every peer of package peerbench, each on a
// port of its own (the first on -port, the next on -port+1, ...), for a
// load tool such as wrk; wrk.sh beside the package drives it. It prints
// one line per peer, "name port tenant", once all of them answer, and
// serves until interrupted.
//
//	peerserver -redis 127.0.0.1:6399 -port 18100
//
// Without -redis the tenants live in an embedded Redis (miniredis) in this
// process. The Redis given must be empty of the keys peerbench writes: use
// a server of the benchmark's own, never one that tests share.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/examples/peerbench"
)

func main() {
	addr := flag.String("redis", "", "host:port of an empty Redis (default: miniredis in this process)")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 18100, "port of the first peer; the others follow")
	app := flag.String("app", "bare", "the handler behind the peers: bare (200, no header, no body) or json (a small JSON-RPC answer with its Content-Type)")
	flag.Parse()

	var handler http.Handler
	switch *app {
	case "bare":
		handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	case "json":
		body := []byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`)
		handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = []string{"application/json"}
			_, _ = w.Write(body)
		})
	default:
		log.Fatalf("peerserver: -app must be bare or json, not %q", *app)
	}
	if *addr == "" {
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			log.Fatal(err)
		}
		defer m.Close()
		*addr = m.Addr()
		log.Printf("peerserver: miniredis at %s", *addr)
	} else {
		log.Printf("peerserver: Redis at %s", *addr)
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr})
	defer rdb.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start, cancel := context.WithTimeout(ctx, 30*time.Second)
	peers, err := peerbench.New(start, rdb, handler)
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	defer peers.Close()

	var servers []*http.Server
	for i, name := range peerbench.Names {
		ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port+i)))
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: peers.All[name].Handler, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != http.ErrServerClosed {
				log.Fatal(err)
			}
		}()
		fmt.Printf("%s %d %s\n", name, *port+i, peers.All[name].TenantID)
	}
	<-ctx.Done()
	for _, srv := range servers {
		_ = srv.Close()
	}
}
