package testredis

import (
	"bufio"
	"context"
	"fmt"
	"net"
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

// clusterWait bounds every wait of a cluster helper: forming a cluster, a
// failover, a replica's sync. A failover with a one-second node timeout
// takes two to three seconds; the margin is for a loaded machine.
const clusterWait = 30 * time.Second

// ClusterConfig describes a [LocalCluster]. The zero value is three masters
// with one replica each and a node timeout of one second, as a production
// cluster runs but with failovers that take seconds.
type ClusterConfig struct {
	// Masters is the number of masters; the slots are split evenly.
	// default: 3
	Masters int
	// Replicas is the number of replicas of each master; negative for none.
	// default: 1
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before its replica takes over.
	// default: 1s
	NodeTimeout time.Duration
}

// LocalCluster is a Redis Cluster of redis-server processes that belongs to
// one test, for tests that kill masters: the shared cluster of
// TENANCY_REDIS_CLUSTER_ADDRS must never lose a node, since other test
// binaries use it at the same time. Every process is killed at cleanup.
type LocalCluster struct {
	t     testing.TB
	nodes []*Node
}

// Node is one redis-server process of a [LocalCluster].
type Node struct {
	t       testing.TB
	dir     string
	port    int
	bus     int
	timeout time.Duration
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StartCluster starts a cluster as cfg describes, on free loopback ports,
// and returns once every node reports cluster_state:ok and every replica
// has synced. It skips the test (or fails it under TENANCY_REQUIRE_REDIS=1)
// when redis-server is not installed.
func StartCluster(t testing.TB, cfg ClusterConfig) *LocalCluster {
	t.Helper()
	needServer(t)
	if cfg.Masters <= 0 {
		cfg.Masters = 3
	}
	switch {
	case cfg.Replicas == 0:
		cfg.Replicas = 1
	case cfg.Replicas < 0:
		cfg.Replicas = 0
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = time.Second
	}
	c := &LocalCluster{t: t}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.kill()
		}
	})
	for range cfg.Masters * (1 + cfg.Replicas) {
		n := &Node{t: t, dir: t.TempDir(), port: freePort(t), bus: freePort(t), timeout: cfg.NodeTimeout}
		n.start()
		c.nodes = append(c.nodes, n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	// As redis-cli --cluster create does: distinct config epochs, the
	// slots split among the masters, every node introduced to the first,
	// then each replica attached to its master once it knows it.
	for i, n := range c.nodes {
		n.do(ctx, "cluster", "set-config-epoch", i+1)
		if i < cfg.Masters {
			lo := i * 16384 / cfg.Masters
			hi := (i+1)*16384/cfg.Masters - 1
			n.do(ctx, "cluster", "addslotsrange", lo, hi)
		}
	}
	for _, n := range c.nodes[1:] {
		c.nodes[0].do(ctx, "cluster", "meet", "127.0.0.1", n.port, n.bus)
	}
	c.waitFor(ctx, "every node knows the others", func(n *Node) bool {
		return infoField(n.info(ctx, "cluster", "info"), "cluster_known_nodes") == strconv.Itoa(len(c.nodes))
	})
	for i, n := range c.nodes[cfg.Masters:] {
		master := c.nodes[i%cfg.Masters]
		id := master.do(ctx, "cluster", "myid").(string)
		rc := n.client()
		for {
			// A replica refuses a master it has not yet learned is one.
			err := rc.Do(ctx, "cluster", "replicate", id).Err()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				c.fail("%s cannot replicate %s: %v", n.Addr(), master.Addr(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = rc.Close()
	}
	c.WaitOK()
	c.WaitReplicated()
	return c
}

// Addrs returns the address of every node, masters first, as a client's
// seed list.
func (c *LocalCluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// WaitOK waits until every running node reports cluster_state:ok and
// names a running master for every slot: after a master's death, until its
// replica has been promoted and every node knows.
func (c *LocalCluster) WaitOK() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	c.waitFor(ctx, "cluster_state:ok and a running master for every slot on every node", func(n *Node) bool {
		return infoField(n.info(ctx, "cluster", "info"), "cluster_state") == "ok" && c.servedByRunning(ctx, n)
	})
}

// servedByRunning reports whether n's slot map gives every slot to a
// running master.
func (c *LocalCluster) servedByRunning(ctx context.Context, n *Node) bool {
	running := map[string]bool{}
	for _, m := range c.running() {
		running[m.Addr()] = true
	}
	nc := n.client()
	defer nc.Close()
	//lint:ignore SA1019 CLUSTER SLOTS answers on every Redis this project supports (7.0 included)
	slots, err := nc.ClusterSlots(ctx).Result()
	if err != nil {
		return false
	}
	served := 0
	for _, s := range slots {
		if len(s.Nodes) == 0 || !running[s.Nodes[0].Addr] {
			return false
		}
		served += int(s.End - s.Start + 1)
	}
	return served == 16384
}

// WaitReplicated waits until every replica of every running master has
// applied everything its master had written when WaitReplicated was
// called.
func (c *LocalCluster) WaitReplicated() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	for _, n := range c.running() {
		if infoField(n.info(ctx, "info", "replication"), "role") != "master" {
			continue
		}
		mc := n.client()
		err := waitReplicas(ctx, mc)
		_ = mc.Close()
		if err != nil {
			c.fail("%v", err)
		}
	}
}

// MasterOf returns the node that is the master of key's slot now.
func (c *LocalCluster) MasterOf(key string) *Node {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	n := c.running()[0]
	slot := n.do(ctx, "cluster", "keyslot", key).(int64)
	owner := n.slotOwner(ctx, slot)
	for _, m := range c.nodes {
		if m.Addr() == owner {
			return m
		}
	}
	c.fail("no master of slot %d", slot)
	return nil
}

// replicates reports whether n's view of the cluster has the node at addr
// as a replica of the node masterID.
func (n *Node) replicates(ctx context.Context, addr, masterID string) bool {
	for line := range strings.Lines(n.info(ctx, "cluster", "nodes")) {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasPrefix(f[1], addr+"@") {
			return strings.Contains(f[2], "slave") && f[3] == masterID
		}
	}
	return false
}

// slotOwner returns the address of the master of slot in n's slot map, ""
// if n does not answer or names none.
func (n *Node) slotOwner(ctx context.Context, slot int64) string {
	nc := n.client()
	defer nc.Close()
	//lint:ignore SA1019 CLUSTER SLOTS answers on every Redis this project supports (7.0 included)
	slots, err := nc.ClusterSlots(ctx).Result()
	if err != nil {
		return ""
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr
		}
	}
	return ""
}

// KillMaster kills the master of key's slot with SIGKILL and returns it;
// its replica takes over once the node timeout has passed ([WaitOK] waits
// for that).
//
// Redis replicates asynchronously: a write a master acknowledged just
// before it died may never have reached its replica, and is then lost by
// the failover. KillMaster first pauses the master's writes (CLIENT PAUSE
// WRITE: writers wait, and see the connection break) and waits until its
// replicas have everything, so that a test can check that nothing
// acknowledged is lost by anything else than that. Use [Node.Kill] for a
// kill without the pause.
func (c *LocalCluster) KillMaster(key string) *Node {
	c.t.Helper()
	n := c.MasterOf(key)
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	n.do(ctx, "client", "pause", clusterWait.Milliseconds(), "write")
	mc := n.client()
	err := waitReplicas(ctx, mc)
	_ = mc.Close()
	if err != nil {
		c.fail("%v", err)
	}
	n.Kill()
	return n
}

// Failover makes a replica of the master of key's slot take over with
// CLUSTER FAILOVER, as an operator does before maintenance, and returns
// the old master (now a replica, still running) and the new one once the
// cluster is ok.
func (c *LocalCluster) Failover(key string) (old, promoted *Node) {
	c.t.Helper()
	old = c.MasterOf(key)
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	info := old.info(ctx, "info", "replication")
	addr := net.JoinHostPort(slaveAttrs(info, 0)["ip"], slaveAttrs(info, 0)["port"])
	for _, n := range c.nodes {
		if n.Addr() == addr {
			promoted = n
		}
	}
	if promoted == nil {
		c.fail("%s has no replica to fail over to", old.Addr())
	}
	slot := old.do(ctx, "cluster", "keyslot", key).(int64)
	// The master takes part in a manual failover only once it knows the
	// replica as its own, which a node that just rejoined may not be yet.
	masterID := old.do(ctx, "cluster", "myid").(string)
	c.waitFor(ctx, "every node knows the replica", func(n *Node) bool {
		return n.replicates(ctx, promoted.Addr(), masterID)
	})
	promoted.do(ctx, "cluster", "failover")
	c.waitFor(ctx, "every node names the new master", func(n *Node) bool {
		return n.slotOwner(ctx, slot) == promoted.Addr()
	})
	c.WaitOK()
	return old, promoted
}

// running returns the nodes whose process runs.
func (c *LocalCluster) running() []*Node {
	var live []*Node
	for _, n := range c.nodes {
		if n.Running() {
			live = append(live, n)
		}
	}
	return live
}

// waitFor polls until ok holds for every running node.
func (c *LocalCluster) waitFor(ctx context.Context, what string, ok func(*Node) bool) {
	c.t.Helper()
	for {
		all := true
		for _, n := range c.running() {
			if !ok(n) {
				all = false
				break
			}
		}
		if all {
			return
		}
		if ctx.Err() != nil {
			c.fail("%s: not within %v", what, clusterWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fail ends the test with msg and the end of every node's log.
func (c *LocalCluster) fail(format string, args ...any) {
	c.t.Helper()
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "\n==> %s (running: %v) <==\n%s", n.Addr(), n.Running(), tail(filepath.Join(n.dir, "redis.log"), 15))
	}
	c.t.Fatalf("testredis: cluster: "+format+"%s", append(args, b.String())...)
}

// Addr returns the node's host:port; it stays the same across restarts.
func (n *Node) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// Running reports whether the node's process runs.
func (n *Node) Running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kill kills the node with SIGKILL, at once, and waits for it to exit.
func (n *Node) Kill() {
	n.t.Helper()
	n.kill()
}

// Restart starts a killed node again with its cluster configuration: it
// rejoins the cluster, and a master whose slots were taken over comes back
// as a replica of its successor. Its data is gone (the nodes keep nothing
// on disk), so restart a master only once its replica was promoted
// ([LocalCluster.WaitOK]), or it would serve its slots empty.
func (n *Node) Restart() {
	n.t.Helper()
	if n.Running() {
		n.t.Fatalf("testredis: %s is running", n.Addr())
	}
	n.start()
}

func (n *Node) start() {
	n.t.Helper()
	n.cmd = exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(n.port), "--cluster-port", strconv.Itoa(n.bus),
		"--dir", n.dir, "--logfile", "redis.log", "--save", "", "--appendonly", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(n.timeout.Milliseconds(), 10),
		// A replica's first sync starts at once rather than after the
		// default 5 s wait for more replicas.
		"--repl-diskless-sync-delay", "0")
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("testredis: start redis-server: %v", err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(n.cmd, n.exited)
	c := n.client()
	defer c.Close()
	deadline := time.Now().Add(clusterWait)
	for c.Ping(context.Background()).Err() != nil {
		if !n.Running() || time.Now().After(deadline) {
			n.t.Fatalf("testredis: redis-server on %s did not answer:\n%s", n.Addr(), tail(filepath.Join(n.dir, "redis.log"), 15))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *Node) kill() {
	if n.Running() {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.exited
	}
}

// client returns a new client of this node alone, which fails at once
// rather than retrying: the helpers poll.
func (n *Node) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1})
}

// do runs one command on the node and fails the test on an error.
func (n *Node) do(ctx context.Context, args ...any) any {
	n.t.Helper()
	c := n.client()
	defer c.Close()
	v, err := c.Do(ctx, args...).Result()
	if err != nil {
		n.t.Fatalf("testredis: %s: %v: %v", n.Addr(), args, err)
	}
	return v
}

// info runs a command that answers INFO-style text (CLUSTER INFO, INFO
// section) and returns it, or "" when the node does not answer.
func (n *Node) info(ctx context.Context, args ...any) string {
	c := n.client()
	defer c.Close()
	s, _ := c.Do(ctx, args...).Text()
	return s
}

// WaitReplicated waits until every replica of the shared cluster's masters
// has applied everything its master had written when WaitReplicated was
// called, for a test that reads from replicas.
func WaitReplicated(t testing.TB, rdb *redis.ClusterClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return waitReplicas(ctx, m)
	})
	if err != nil {
		t.Fatalf("testredis: %v", err)
	}
}

// waitReplicas waits until every replica that master lists has processed
// the replication stream up to the master's offset at the time of the
// call. Each replica is asked for its own offset: the one the master
// lists is acknowledged only once a second.
func waitReplicas(ctx context.Context, master *redis.Client) error {
	info, err := master.Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("replication of %s: %w", master.Options().Addr, err)
	}
	want, _ := strconv.ParseInt(infoField(info, "master_repl_offset"), 10, 64)
	for i := 0; ; i++ {
		attrs := slaveAttrs(info, i)
		if attrs == nil {
			return nil
		}
		addr := net.JoinHostPort(attrs["ip"], attrs["port"])
		r := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		for {
			s, err := r.Info(ctx, "replication").Result()
			got, _ := strconv.ParseInt(infoField(s, "slave_repl_offset"), 10, 64)
			if err == nil && got >= want {
				break
			}
			if ctx.Err() != nil {
				_ = r.Close()
				return fmt.Errorf("replica %s of %s: offset %d, want %d: %v", addr, master.Options().Addr, got, want, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = r.Close()
	}
}

// slaveAttrs returns the attributes (ip, port, offset, ...) of the i-th
// replica that a master's INFO replication lists, nil if there is none.
func slaveAttrs(info string, i int) map[string]string {
	slave := infoField(info, "slave"+strconv.Itoa(i))
	if slave == "" {
		return nil
	}
	attrs := map[string]string{}
	for kv := range strings.SplitSeq(slave, ",") {
		k, v, _ := strings.Cut(kv, "=")
		attrs[k] = v
	}
	return attrs
}

// infoField returns the value of name in INFO-style text, "" if absent.
func infoField(info, name string) string {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && k == name {
			return v
		}
	}
	return ""
}

// needServer skips the test, or fails it under TENANCY_REQUIRE_REDIS=1,
// when redis-server is not installed.
func needServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("testredis: redis-server not found but %s=1", EnvRequire)
		}
		t.Skip("testredis: redis-server not installed")
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testredis: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
