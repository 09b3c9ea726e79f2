package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dieWithParent makes a child process get SIGTERM when this process
// dies, also when it is killed without running its deferred calls (a
// closed pipe on its standard output does that): no server is left
// behind. Linux only, as is the reading of /proc.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// redisProc is a private redis-server: no snapshots of its own, so its data
// survives a restart only through an explicit SHUTDOWN SAVE.
type redisProc struct {
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(dir string) (*redisProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &redisProc{port: port, dir: dir}
	return p, p.start()
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *redisProc) start() error {
	p.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(p.port),
		"--save", "", "--appendonly", "no", "--dir", p.dir, "--logfile", filepath.Join(p.dir, "redis.log"))
	p.cmd.SysProcAttr = dieWithParent()
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("loadtest: starting redis-server: %w", err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
	rdb := redis.NewClient(&redis.Options{Addr: p.addr()})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
	}
	p.kill()
	return errors.New("loadtest: redis-server did not answer within 10 s")
}

// shutdownSave stops the server after writing its data to dump.rdb, which
// start loads again.
func (p *redisProc) shutdownSave() error {
	rdb := redis.NewClient(&redis.Options{Addr: p.addr()})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = rdb.Do(ctx, "SHUTDOWN", "SAVE").Err() // the connection drops: no answer
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return errors.New("loadtest: redis-server did not stop after SHUTDOWN SAVE")
	}
}

// kill stops the server, if it runs.
func (p *redisProc) kill() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// serverProc is the example server running as a child process.
type serverProc struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// buildServer builds examples/server into dir.
func buildServer(dir string) (string, error) {
	bin := filepath.Join(dir, "server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/seedmcp/tenancy/examples/server")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("loadtest: building the example server: %w", err)
	}
	return bin, nil
}

// startServer runs bin in path mode on a free loopback port, with its log
// in logFile.
func startServer(bin, redisURL, logFile string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR="+addr,
		"PUBLIC_URL=",
		"REDIS_URL="+redisURL,
		"MULTI_TENANT_ENABLED=true",
		"TENANT_IDENTIFICATION=path",
		"TENANT_ADMIN_API_KEY="+adminKey,
		// It seals the secrets of the confidential upstream clients.
		"TENANT_ENCRYPTION_KEY="+encryptionKey,
		"AUTH_REQUIRED=true",
		"METRICS_ENABLED=true",
		// The tenants' test identity providers listen on 127.0.0.1.
		"OIDC_INSECURE_ALLOW_LOOPBACK=true",
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("loadtest: starting the server: %w", err)
	}
	s := &serverProc{addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(s.done) }()
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get("http://" + addr + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("loadtest: the server exited; see %s", logFile)
		default:
		}
	}
	s.stop()
	return nil, fmt.Errorf("loadtest: the server was not healthy within 15 s; see %s", logFile)
}

// rss returns the server's resident set size in bytes, from /proc.
func (s *serverProc) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stop sends SIGTERM (graceful shutdown) and waits, killing the server
// after 15 s.
func (s *serverProc) stop() {
	if s == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
