// Package testredis connects tests to the real Redis servers that .ci/run
// (or scripts/redis-up.sh on a developer's machine) starts.
//
// The addresses come from the environment:
//
//	TENANCY_REDIS_ADDR            host:port of a standalone Redis
//	TENANCY_REDIS_CLUSTER_ADDRS   comma-separated host:port of cluster nodes (all of them, or the masters)
//	TENANCY_REQUIRE_REDIS=1       a missing address fails the test instead of skipping it
//
// Test binaries of several packages run at once and share the servers, so
// every helper here takes a machine-wide lock (a flock on a file named after
// the address) for the duration of the test and empties the server first.
// Tests that use these helpers must not call t.Parallel.
//
// The shared cluster has replicas, as production clusters do, but no test
// may stop one of its nodes. A test that kills masters starts a cluster of
// its own with [StartCluster].
package testredis

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Environment variables read by this package.
const (
	EnvAddr         = "TENANCY_REDIS_ADDR"
	EnvClusterAddrs = "TENANCY_REDIS_CLUSTER_ADDRS"
	EnvRequire      = "TENANCY_REQUIRE_REDIS"
)

// Addr returns the standalone address, skipping (or, under
// TENANCY_REQUIRE_REDIS=1, failing) the test when it is not set.
func Addr(t testing.TB) string {
	t.Helper()
	return need(t, EnvAddr)
}

// ClusterAddrs returns the addresses of the cluster's nodes, skipping or
// failing like [Addr]. Blanks around the commas are ignored. Any of them
// may be a replica: a cluster client only needs one node that answers to
// learn the whole cluster.
func ClusterAddrs(t testing.TB) []string {
	t.Helper()
	var addrs []string
	for a := range strings.SplitSeq(need(t, EnvClusterAddrs), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		missing(t, EnvClusterAddrs)
	}
	return addrs
}

// Standalone returns a client of the standalone Redis, emptied and locked
// for this test. The client is closed and the lock released at cleanup.
func Standalone(t testing.TB) *redis.Client {
	t.Helper()
	addr := Addr(t)
	lock(t, addr)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatalf("testredis: flush %s: %v", addr, err)
	}
	return c
}

// Cluster returns a client of the Redis Cluster, emptied and locked for this
// test. The client is closed and the lock released at cleanup.
//
// Only the masters, found in the cluster's current slot map, are flushed:
// replicas refuse writes and follow their masters. A test that reads from
// replicas calls [WaitReplicated] after its writes.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	addrs := ClusterAddrs(t)
	lock(t, addrs[0])
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return m.FlushAll(ctx).Err()
	})
	if err != nil {
		t.Fatalf("testredis: flush cluster %v: %v", addrs, err)
	}
	return c
}

// LookupAddr returns the standalone address and true, or "" and false when
// it is not set, for tests that run on the real Redis only in addition to
// an embedded one. Under TENANCY_REQUIRE_REDIS=1 a missing address fails
// the test.
func LookupAddr(t testing.TB) (string, bool) {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvAddr))
	if v == "" && os.Getenv(EnvRequire) == "1" {
		t.Fatalf("testredis: %s is not set but %s=1: the integration servers must be running", EnvAddr, EnvRequire)
	}
	return v, v != ""
}

func need(t testing.TB, name string) string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		missing(t, name)
	}
	return v
}

// missing ends the test because the variable name holds no address: a skip,
// or a failure under TENANCY_REQUIRE_REDIS=1 so that CI cannot pass by
// skipping every integration test.
func missing(t testing.TB, name string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("testredis: %s is not set but %s=1: the integration servers must be running", name, EnvRequire)
	}
	t.Skipf("testredis: %s not set; run scripts/redis-up.sh to run integration tests", name)
}

// Lock holds the machine-wide lock on the server at addr for the rest of
// the test, as Standalone and Cluster do, for a test that opens its own
// clients. It must not be taken twice by one test.
func Lock(t testing.TB, addr string) {
	t.Helper()
	lock(t, addr)
}

// lock holds an exclusive flock for the rest of the test, so that test
// binaries running in parallel never flush each other's data.
func lock(t testing.TB, addr string) {
	t.Helper()
	name := filepath.Join(os.TempDir(), "tenancy-testredis-"+strings.NewReplacer(":", "_", "/", "_").Replace(addr)+".lock")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("testredis: lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		t.Fatalf("testredis: lock: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	})
}

// Server is a redis-server process of a test's own, for tests that stop and
// restart Redis. Its data is saved on Stop and loaded on Start, as a
// restarted production server would do.
type Server struct {
	t    testing.TB
	dir  string
	port string
	cmd  *exec.Cmd
}

// StartServer starts a private redis-server on a free loopback port and
// stops it at cleanup. It skips the test (or fails it under
// TENANCY_REQUIRE_REDIS=1) when redis-server is not installed.
func StartServer(t testing.TB) *Server {
	t.Helper()
	needServer(t)
	s := &Server{t: t, dir: t.TempDir(), port: strconv.Itoa(freePort(t))}
	s.Start()
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

// Addr returns the server's host:port; it stays the same across restarts.
func (s *Server) Addr() string { return "127.0.0.1:" + s.port }

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", s.port, "--bind", "127.0.0.1",
		"--dir", s.dir, "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("testredis: start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("testredis: redis-server on %s did not answer", s.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop saves the data set and stops the server; clients see connection
// errors until Start.
func (s *Server) Stop() {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	// SHUTDOWN SAVE closes the connection instead of answering.
	_ = c.ShutdownSave(context.Background()).Err()
	_ = s.cmd.Wait()
	s.cmd = nil
}
