// Command loadtest puts the example server (examples/server) under a
// bounded load on a real Redis, with many tenants, and optionally injects
// one fault in the middle of it. It checks every answer against the tenant
// the request was sent to, and reports throughput, latency, Redis commands
// per request, the server's goroutines and memory over time, and what the
// clients saw around the fault, second by second.
//
//	go run ./tools/loadtest -scenario steady -duration 90s
//	go run ./tools/loadtest -scenario redis-restart
//	eval "$(scripts/redis-up.sh)"
//	go run ./tools/loadtest -scenario cluster -redis-url "redis://${TENANCY_REDIS_CLUSTER_ADDRS//,/,}"
//
// It builds the server, runs it as a child process in path mode with
// METRICS_ENABLED=true (its GET /metrics gives the goroutine count and heap
// in use), starts a few test identity providers (oidcx/oidctest) and a
// private redis-server on a free port (unless -redis-url names one, which
// it flushes), creates the tenants through the admin API, each with its
// own audience and authorization URL, and sends traffic from a fixed number
// of workers on loopback only, for a fixed time. Every process it starts,
// it stops.
//
// Scenarios: steady (load only), redis-restart (SHUTDOWN SAVE of the
// private redis-server, then a restart on the same port and data),
// idp-down and idp-slow (one tenant's identity provider answers 503, or
// after 10 s), suspend-delete (one tenant suspended, then deleted, through
// the admin API), cluster (-redis-url with the cluster's addresses: every
// client connection of one master killed, then another master stopped
// with SIGSTOP for 2 s).
//
// The same run is available as a test that only runs when TENANCY_LOAD=1,
// so that it never runs in ordinary CI:
//
//	TENANCY_LOAD=1 go test -run TestLoad -v -timeout 15m ./tools/loadtest
package main
