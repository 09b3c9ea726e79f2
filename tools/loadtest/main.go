package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store/redisstore"
)

// options are the command's flags.
type options struct {
	Scenario  string
	Tenants   int
	Providers int
	Workers   int
	Warmup    time.Duration
	Duration  time.Duration
	FaultAt   time.Duration
	Sample    time.Duration
	Mix       mix
	RedisURL  string
	Keep      bool
}

func main() {
	var o options
	var mixFlag string
	flag.StringVar(&o.Scenario, "scenario", "steady", "steady, redis-restart, idp-down, idp-slow, suspend-delete or cluster")
	flag.IntVar(&o.Tenants, "tenants", 1000, "tenants to create")
	flag.IntVar(&o.Providers, "providers", 4, "identity providers shared by the tenants")
	flag.IntVar(&o.Workers, "workers", 32, "concurrent workers")
	flag.DurationVar(&o.Warmup, "warmup", 10*time.Second, "load before the measured window")
	flag.DurationVar(&o.Duration, "duration", 90*time.Second, "measured window (at most 5 minutes)")
	flag.DurationVar(&o.FaultAt, "fault-at", 15*time.Second, "when the fault starts, from the start of the window")
	flag.DurationVar(&o.Sample, "sample", 5*time.Second, "interval of the server's goroutine and memory samples")
	flag.StringVar(&mixFlag, "mix", "80,15,5", "percentages of metadata, whoami and login work")
	flag.StringVar(&o.RedisURL, "redis-url", "", "Redis to use (flushed first!); default: a private redis-server")
	flag.BoolVar(&o.Keep, "keep", false, "keep the working directory (server log, full /metrics)")
	flag.Parse()
	if _, err := fmt.Sscanf(mixFlag, "%d,%d,%d", &o.Mix.meta, &o.Mix.whoami, &o.Mix.login); err != nil ||
		o.Mix.meta+o.Mix.whoami+o.Mix.login != 100 {
		fmt.Fprintln(os.Stderr, "loadtest: -mix must be three percentages adding up to 100, such as 80,15,5")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	res, err := run(ctx, o, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if len(res.crosses) > 0 || res.lost > 0 {
		os.Exit(1)
	}
}

// result is what a run found, for the test.
type result struct {
	requests   int
	crosses    []string
	lost       int // registered clients of live tenants missing at the end
	unexpected int // unexpected answers of the other tenants in the window
	samples    []sample
}

// env is one run's world: the processes, the tenants, the load.
type env struct {
	o        options
	out      io.Writer
	dir      string
	redis    *redisProc // nil when -redis-url is given
	redisURL string
	rdb      redis.UniversalClient
	bin      string
	srv      *serverProc
	c        *client
	rec      *recorder
	tenants  []loadTenant
	victimP  *oidctest.Server // the victim tenant's own identity provider
	window   time.Duration    // start of the measured window, on rec's clock
	notes    []string
}

func (e *env) note(format string, args ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

// Which tenants play which part: the victim has an identity provider of
// its own and is the target of the faults aimed at one tenant; the probe
// is used only for the check that changes reach every replica.
const (
	victim = 0
	probe  = 1
)

func run(ctx context.Context, o options, out io.Writer) (*result, error) {
	fault, err := o.check()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tenancy-load-")
	if err != nil {
		return nil, err
	}
	e := &env{o: o, out: out, dir: dir, rec: newRecorder()}
	defer e.removeDir()
	closeRedis, err := e.openRedis(ctx)
	defer closeRedis()
	if err != nil {
		return nil, err
	}
	closeProviders := e.startProviders()
	defer closeProviders()
	stopServer, err := e.startServer(ctx)
	defer stopServer()
	if err != nil {
		return nil, err
	}
	w, err := e.load(ctx, fault)
	if err != nil {
		return nil, err
	}
	res := e.report(w, fault)
	return res, e.finish(ctx, res, w, fault)
}

// check validates o and returns its scenario.
func (o options) check() (scenario, error) {
	if o.Duration > 5*time.Minute || o.Warmup > time.Minute {
		return scenario{}, errors.New("loadtest: -duration is at most 5m and -warmup at most 1m")
	}
	if o.Tenants < 3 || o.Workers < 1 || o.Providers < 1 {
		return scenario{}, errors.New("loadtest: -tenants is at least 3, -workers and -providers at least 1")
	}
	if o.Scenario == "cluster" && !strings.Contains(o.RedisURL, ",") {
		return scenario{}, errors.New("loadtest: -scenario cluster needs -redis-url with the cluster's addresses")
	}
	fault, ok := scenarios[o.Scenario]
	if !ok {
		return scenario{}, fmt.Errorf("loadtest: unknown scenario %q", o.Scenario)
	}
	return fault, nil
}

// removeDir removes the working directory, unless -keep asks to keep it.
func (e *env) removeDir() {
	if e.o.Keep {
		fmt.Fprintf(e.out, "\nworking directory kept: %s\n", e.dir)
		return
	}
	_ = os.RemoveAll(e.dir)
}

// openRedis starts the private redis-server unless -redis-url names one,
// connects to it and flushes it. The function it returns closes what it
// opened, also when it fails half-way.
func (e *env) openRedis(ctx context.Context) (func(), error) {
	var undo []func()
	closeAll := func() {
		for _, f := range slices.Backward(undo) {
			f()
		}
	}
	var err error
	if e.redisURL = e.o.RedisURL; e.redisURL == "" {
		_ = os.Mkdir(filepath.Join(e.dir, "redis"), 0o700)
		if e.redis, err = startRedis(filepath.Join(e.dir, "redis")); err != nil {
			return closeAll, err
		}
		undo = append(undo, e.redis.kill)
		e.redisURL = "redis://" + e.redis.addr()
	}
	if e.rdb, err = redisClient(e.redisURL); err != nil {
		return closeAll, err
	}
	undo = append(undo, func() { _ = e.rdb.Close() })
	if err := e.eachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.FlushAll(ctx).Err() }); err != nil {
		return closeAll, fmt.Errorf("loadtest: flushing %s: %w", e.redisURL, err)
	}
	return closeAll, nil
}

// startProviders starts the identity providers, -providers shared by the
// tenants and the victim's own, and makes the tenants. Each provider
// logs in a user of its own. The function it returns closes the
// providers.
func (e *env) startProviders() func() {
	providers := make([]*oidctest.Server, e.o.Providers)
	for i := range providers {
		providers[i] = oidctest.NewServer()
		providers[i].SetSubject(fmt.Sprintf("idp%d-user", i))
	}
	e.victimP = oidctest.NewServer()
	e.victimP.SetSubject("victim-idp-user")
	for i := range e.o.Tenants {
		idp, subject := providers[i%len(providers)], fmt.Sprintf("idp%d-user", i%len(providers))
		if i == victim {
			idp, subject = e.victimP, "victim-idp-user"
		}
		e.tenants = append(e.tenants, makeTenant(i, idp, subject))
	}
	return func() {
		e.victimP.Close()
		for _, p := range slices.Backward(providers) {
			p.Close()
		}
	}
}

// startServer builds and starts the example server, registers the
// tenants' upstream clients with their providers, creates the tenants
// through its admin API and checks that the changes reach it. The
// function it returns stops the server, if it was started.
func (e *env) startServer(ctx context.Context) (func(), error) {
	var err error
	if e.bin, err = buildServer(e.dir); err != nil {
		return func() {}, err
	}
	if e.srv, err = startServer(e.bin, e.redisURL, filepath.Join(e.dir, "server.log")); err != nil {
		return func() {}, err
	}
	e.c = newClient("http://"+e.srv.addr, e.rec, e.o.Workers+4)
	for _, t := range e.tenants {
		if t.proxied() {
			t.idp.RegisterClient(t.upstreamClient(e.c.base))
		}
	}
	start := time.Now()
	if err := e.c.createTenants(ctx, e.tenants); err != nil {
		return e.srv.stop, err
	}
	o := e.o
	fmt.Fprintf(e.out, "## %s\n\n%d tenants created through the admin API in %.1f s; %d workers, mix %d/%d/%d (metadata/whoami/login), warm-up %s, window %s\n\n",
		o.Scenario, o.Tenants, time.Since(start).Seconds(), o.Workers, o.Mix.meta, o.Mix.whoami, o.Mix.login, o.Warmup, o.Duration)
	return e.srv.stop, e.propagation(ctx, "before the window")
}

// window is what the load saw: the end of the measured window on the
// recorder's clock, Redis's command counts at its start and end, the
// server's samples, the workers (with the clients they registered) and
// the scenario's own report.
type window struct {
	end           time.Duration
	before, after map[string]int64
	samples       []sample
	workers       []*worker
	report        func()
}

// load runs the workers through the warm-up and the measured window,
// samples the server and runs the scenario's fault meanwhile.
func (e *env) load(ctx context.Context, fault scenario) (*window, error) {
	o := e.o
	// Workers on every tenant but the probe (and the victim, which gets a
	// worker of its own when the scenario aims at it).
	others := slices.Concat(e.tenants[:probe], e.tenants[probe+1:])
	if fault.victim {
		others = e.tenants[probe+1:]
	}
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	w := &window{}
	var wg sync.WaitGroup
	for i := range o.Workers {
		w.workers = append(w.workers, &worker{c: e.c, ts: others, mix: o.Mix, rnd: rand.New(rand.NewPCG(uint64(i), 1)), clients: map[string][]string{}})
	}
	if fault.victim {
		w.workers = append(w.workers, &worker{c: e.c, ts: e.tenants[victim : victim+1], mix: mix{50, 40, 10}, victim: true,
			pace: 20 * time.Millisecond, rnd: rand.New(rand.NewPCG(999, 1)), clients: map[string][]string{}})
	}
	for _, wk := range w.workers {
		wg.Go(func() { wk.run(lctx) })
	}
	sleep(ctx, o.Warmup)
	e.window = e.rec.mark("window starts")
	// The samples start with the window, after the warm-up has filled
	// the caches and connection pools.
	var smu sync.Mutex
	wg.Go(func() {
		t := time.NewTicker(o.Sample)
		defer t.Stop()
		for {
			if s, err := e.sample(lctx); err == nil {
				smu.Lock()
				w.samples = append(w.samples, s)
				smu.Unlock()
			}
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
		}
	})
	w.before, _ = e.commandStats(ctx)
	faultDone := make(chan struct{})
	go func() {
		defer close(faultDone)
		if fault.run != nil {
			w.report = fault.run(lctx, e)
		}
	}()
	sleep(ctx, o.Duration)
	w.end = e.rec.mark("window ends")
	w.after, _ = e.commandStats(ctx)
	stopLoad()
	wg.Wait()
	<-faultDone
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return w, nil
}

// report writes what the clients and the server saw: the warm-up, the
// requests of the window, Redis commands per request, the server's
// samples, the seconds around the fault and the findings.
func (e *env) report(w *window, fault scenario) *result {
	o, out := e.o, e.out
	res := &result{samples: w.samples}
	span := w.end - e.window
	isOther := func(ev event) bool { return !ev.victim }
	evs := e.rec.window(e.window, w.end, isOther)
	res.requests = len(evs)
	for _, ev := range evs {
		if !ev.ok {
			res.unexpected++
		}
	}
	// The warm-up starts with every tenant uncached on a fresh server.
	if first, last, n, st := failures(e.rec, 0, func(ev event) bool { return ev.at < e.window }); n > 0 {
		fmt.Fprintf(out, "warm-up (fresh server, cold cache): %d unexpected answers (%s) of %d, from %.2f s to %.2f s after the load started\n\n",
			n, statusCounts(st), len(e.rec.window(0, e.window, nil)), first.Seconds(), last.Seconds())
	} else {
		fmt.Fprintf(out, "warm-up (fresh server, cold cache): no unexpected answer\n\n")
	}
	fmt.Fprintf(out, "### Requests of the other tenants in the window (%.0f s)\n\n", span.Seconds())
	summary(out, evs, span)
	refusals(out, evs)
	if fault.victim {
		fmt.Fprintf(out, "\n### Requests of the victim tenant %s in the window\n\n", e.tenants[victim].id)
		summary(out, e.rec.window(e.window, w.end, func(ev event) bool { return ev.victim }), span)
	}
	// The requests the server answered: the provider's logins are not.
	served := e.rec.window(e.window, w.end, func(ev event) bool { return ev.kind != kindIdP })
	if w.before != nil && w.after != nil && o.Scenario != "redis-restart" {
		e.commandsPerRequest(out, w.before, w.after, len(served))
	}
	fmt.Fprintf(out, "\n### Server goroutines and memory (every %s)\n\n", o.Sample)
	sampleTable(out, w.samples)
	if fault.run != nil {
		from := max(e.window, e.window+o.FaultAt-5*time.Second)
		fmt.Fprintf(out, "\n### Second by second from %.0f s\n\n", from.Seconds())
		timeline(out, e.rec, from, w.end)
	}
	if w.report != nil {
		w.report()
	}
	e.rec.mu.Lock()
	for k, n := range e.rec.noRetryAfter {
		e.note("%d answers of kind %s were 503 or 429 without Retry-After", n, k)
	}
	e.rec.mu.Unlock()
	if len(e.notes) > 0 {
		fmt.Fprintf(out, "\n### Findings\n\n")
		for _, n := range e.notes {
			fmt.Fprintf(out, "- %s\n", n)
		}
	}
	return res
}

// finish checks that changes still reach the server and that no
// registered client was lost, reports the answers that named another
// tenant and the requests that got none, and saves the server's metrics.
func (e *env) finish(ctx context.Context, res *result, w *window, fault scenario) error {
	out := e.out
	if err := e.propagation(ctx, "after the window"); err != nil {
		return err
	}
	var err error
	if res.lost, err = e.checkClients(ctx, w.workers, fault.victim); err != nil {
		return err
	}
	e.rec.mu.Lock()
	res.crosses = e.rec.crosses
	errs := e.rec.errs
	e.rec.mu.Unlock()
	fmt.Fprintf(out, "\ncross-tenant answers: %d\n", len(res.crosses))
	for i, c := range res.crosses {
		if i == 10 {
			fmt.Fprintf(out, "  …\n")
			break
		}
		fmt.Fprintf(out, "  %s\n", c)
	}
	if len(errs) > 0 {
		fmt.Fprintf(out, "requests without an answer, by error: %v\n", errs)
	}
	return e.dumpMetrics(ctx)
}

// redisClient connects to url as the example server reads REDIS_URL: one
// server (redis://host:port, or any URL redis.ParseURL reads) or, with
// several comma-separated addresses (redis://host:port,host:port), a Redis
// Cluster.
func redisClient(url string) (redis.UniversalClient, error) {
	nodes := strings.Split(url, ",")
	first, err := redis.ParseURL(nodes[0])
	if err != nil {
		return nil, fmt.Errorf("loadtest: -redis-url: %w", err)
	}
	if len(nodes) == 1 {
		return redis.NewClient(first), nil
	}
	addrs := []string{first.Addr}
	for _, n := range nodes[1:] {
		_, hostPort, _ := strings.Cut(n, "://")
		if hostPort == "" {
			hostPort = n
		}
		addrs = append(addrs, strings.TrimSpace(hostPort))
	}
	c := &redis.ClusterOptions{Addrs: addrs, Username: first.Username, Password: first.Password}
	if first.TLSConfig != nil {
		// Each node is checked against its own address, not the first's.
		c.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return redis.NewClusterClient(c), nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// eachMaster runs fn on the Redis server, or on every master of a cluster.
func (e *env) eachMaster(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, fn)
	}
	return fn(ctx, e.rdb.(*redis.Client))
}

// commandStats returns the commands processed so far, by command and
// under "total", summed over the masters.
func (e *env) commandStats(ctx context.Context) (map[string]int64, error) {
	var mu sync.Mutex
	stats := map[string]int64{}
	err := e.eachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "stats", "commandstats").Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for line := range strings.Lines(info) {
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				stats["total"] += n
			}
			if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
				name, fields, _ := strings.Cut(rest, ":")
				calls, _, _ := strings.Cut(strings.TrimPrefix(fields, "calls="), ",")
				n, _ := strconv.ParseInt(calls, 10, 64)
				stats[name] += n
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stats, nil
}

func (e *env) commandsPerRequest(w io.Writer, before, after map[string]int64, requests int) {
	total := after["total"] - before["total"]
	fmt.Fprintf(w, "\n### Redis commands\n\n%d commands for %d requests (all tenants): %.2f per request. By command:\n\n| command | calls | per request |\n|---|---:|---:|\n",
		total, requests, float64(total)/float64(max(requests, 1)))
	type kv struct {
		k string
		v int64
	}
	var rows []kv
	for k, v := range after {
		if d := v - before[k]; k != "total" && d > 0 {
			rows = append(rows, kv{k, d})
		}
	}
	slices.SortFunc(rows, func(a, b kv) int { return int(b.v - a.v) })
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %.3f |\n", r.k, r.v, float64(r.v)/float64(max(requests, 1)))
	}
}

// sample reads the server's goroutines and heap from its /metrics, and its
// RSS from /proc.
func (e *env) sample(ctx context.Context) (sample, error) {
	s := sample{at: e.rec.now() - e.window, rss: e.srv.rss()}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.c.base+"/metrics", nil)
	resp, err := e.c.http.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	// The values may be written as floats ("2.8680192e+07").
	value := func(v string) int64 {
		f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return int64(f)
	}
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			s.goroutines = value(v)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			s.heapInuse = value(v)
		}
	}
	return s, sc.Err()
}

// propagation checks that a change made through another replica reaches
// this one within a second: it starts a second server on the same Redis,
// suspends the probe tenant there, times until this server refuses it,
// and does the same for the reactivation.
func (e *env) propagation(ctx context.Context, when string) error {
	b, err := startServer(e.bin, e.redisURL, filepath.Join(e.dir, "replica-b.log"))
	if err != nil {
		return err
	}
	defer b.stop()
	cb := newClient("http://"+b.addr, e.rec, 2)
	defer cb.http.CloseIdleConnections()
	id := e.tenants[probe].id
	u := e.c.base + "/.well-known/oauth-protected-resource/" + id + "/mcp"
	var times []string
	for _, step := range []struct {
		status string
		want   int
	}{{"suspended", http.StatusNotFound}, {"active", http.StatusOK}} {
		st, body, err := cb.admin(ctx, http.MethodPatch, "/"+id, map[string]string{"status": step.status})
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("loadtest: PATCH %s on replica B: %d %s %v", id, st, body, err)
		}
		t0 := time.Now()
		got := 0
		for time.Since(t0) < 5*time.Second {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if resp, err := e.c.http.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if got = resp.StatusCode; got == step.want {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		if got == step.want {
			times = append(times, fmt.Sprintf("%s seen by the load's server after %s", step.status, ms(time.Since(t0))))
		} else {
			times = append(times, fmt.Sprintf("%s NOT seen by the load's server within 5 s (still %d)", step.status, got))
		}
	}
	fmt.Fprintf(e.out, "change made through a second replica, %s: %s\n\n", when, strings.Join(times, "; "))
	return nil
}

// checkClients checks that every client registered during the run (201)
// is still in its tenant's store, but the victim's when the scenario
// deletes it.
func (e *env) checkClients(ctx context.Context, workers []*worker, skipVictim bool) (int, error) {
	clients := redisstore.New(e.rdb, redisstore.Config{}).Clients()
	n, lost := 0, 0
	for _, w := range workers {
		for id, ids := range w.clients {
			if skipVictim && e.o.Scenario == "suspend-delete" && id == e.tenants[victim].id {
				continue
			}
			for _, cid := range ids {
				n++
				if _, err := clients.Get(ctx, id, cid); err != nil {
					lost++
				}
			}
		}
	}
	fmt.Fprintf(e.out, "registered clients checked afterwards: %d, missing: %d\n", n, lost)
	st, body, err := e.c.admin(ctx, http.MethodGet, "?limit=1000", nil)
	if err != nil || st != http.StatusOK {
		return lost, fmt.Errorf("loadtest: listing tenants: %d %s %v", st, body, err)
	}
	fmt.Fprintf(e.out, "tenants listed afterwards (first page of 1000): %d\n", strings.Count(string(body), `"createdAt"`))
	return lost, nil
}

// dumpMetrics saves the server's /metrics in the working directory and
// prints an excerpt: one tenant's series, the refusals and the gauges.
func (e *env) dumpMetrics(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.c.base+"/metrics", nil)
	resp, err := e.c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(e.dir, "metrics.txt"), body, 0o600)
	show := e.tenants[2].id
	fmt.Fprintf(e.out, "\n### GET /metrics at the end (%d lines; tenant %s, refusals and gauges shown)\n\n```\n", strings.Count(string(body), "\n"), show)
	gauges := []string{"go_goroutines ", "go_memstats_heap_inuse_bytes "}
	for line := range strings.Lines(string(body)) {
		if strings.Contains(line, `tenant="`+show+`"`) && !strings.Contains(line, "_bucket") || strings.HasPrefix(line, "tenancy_refused_total") ||
			slices.ContainsFunc(gauges, func(g string) bool { return strings.HasPrefix(line, g) }) {
			fmt.Fprint(e.out, line)
		}
	}
	fmt.Fprintf(e.out, "```\n")
	return nil
}
