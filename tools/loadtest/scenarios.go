package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// scenario is a fault injected during the load. victim says that it is
// aimed at one tenant, which then gets a worker of its own.
type scenario struct {
	victim bool
	// run injects the fault during the window and returns the analysis,
	// which runs once the workers have stopped and handed in their
	// events.
	run func(ctx context.Context, e *env) (report func())
}

var scenarios = map[string]scenario{
	"steady":         {},
	"redis-restart":  {run: redisRestart},
	"idp-down":       {victim: true, run: func(ctx context.Context, e *env) func() { return idpFault(ctx, e, false) }},
	"idp-slow":       {victim: true, run: func(ctx context.Context, e *env) func() { return idpFault(ctx, e, true) }},
	"suspend-delete": {victim: true, run: suspendDelete},
	"cluster":        {run: clusterFault},
}

// at sleeps until d after the start of the window.
func (e *env) at(ctx context.Context, d time.Duration) {
	sleep(ctx, e.window+d-e.rec.now())
}

// recovery notes when the unexpected answers of the selected requests
// started and ended, relative to the fault's start and end.
func (e *env) recovery(who string, faultStart, faultEnd time.Duration, keep func(event) bool) {
	first, last, n, statuses := failures(e.rec, faultStart, keep)
	if n == 0 {
		e.note("%s: no unexpected answer from the fault on", who)
		return
	}
	e.note("%s: %d unexpected answers (%s), the first %.2f s after the fault started, the last ended %.2f s after it ended (%.2f s after it started)",
		who, n, statusCounts(statuses), (first - faultStart).Seconds(), (last - faultEnd).Seconds(), (last - faultStart).Seconds())
}

func others(ev event) bool { return !ev.victim }

// redisRestart stops the private redis-server with SHUTDOWN SAVE, leaves
// it down for 5 s and starts it again on the same port and data.
func redisRestart(ctx context.Context, e *env) func() {
	if e.redis == nil {
		e.note("redis-restart needs the private redis-server (no -redis-url)")
		return nil
	}
	e.at(ctx, e.o.FaultAt)
	start := e.rec.mark("SHUTDOWN SAVE sent")
	if err := e.redis.shutdownSave(); err != nil {
		e.note("%v", err)
		return nil
	}
	e.rec.mark("redis-server exited")
	sleep(ctx, 5*time.Second)
	if err := e.redis.start(); err != nil {
		e.note("%v", err)
		return nil
	}
	end := e.rec.mark("redis-server answers PING again")
	return func() {
		e.recovery("all tenants", start, end, nil)
		for _, k := range []string{kindMeta, kindInit, kindRegister} {
			e.recovery("  "+k, start, end, func(ev event) bool { return ev.kind == k })
		}
	}
}

// idpFault makes the victim's identity provider answer 503 (or answer
// after 10 s) while its verifier is warm, then drops the verifier (a
// PATCH of the tenant, as any change of its settings does) so that it has
// to be built again from the failing provider, and finally restores the
// provider.
func idpFault(ctx context.Context, e *env, slow bool) func() {
	e.at(ctx, e.o.FaultAt)
	var start time.Duration
	if slow {
		e.victimP.SetDelay(10 * time.Second)
		start = e.rec.mark("victim's provider answers after 10 s")
	} else {
		e.victimP.SetDown(true)
		start = e.rec.mark("victim's provider answers 503")
	}
	e.at(ctx, e.o.FaultAt+10*time.Second)
	st, body, err := e.c.admin(ctx, http.MethodPatch, "/"+e.tenants[victim].id, map[string]string{"name": "renamed during the fault"})
	evict := e.rec.mark(fmt.Sprintf("victim PATCHed (verifier dropped): %d", st))
	if err != nil || st != http.StatusOK {
		e.note("PATCH of the victim failed: %d %s %v", st, body, err)
	}
	e.at(ctx, e.o.FaultAt+30*time.Second)
	e.victimP.SetDelay(0)
	e.victimP.SetDown(false)
	end := e.rec.mark("victim's provider restored")
	return func() {

		victimMCP := func(ev event) bool { return ev.victim && isMCP(ev.kind) }
		e.recovery("victim, warm verifier (before the PATCH)", start, evict, func(ev event) bool { return victimMCP(ev) && ev.at < evict })
		e.recovery("victim's MCP requests after the PATCH", evict, end, victimMCP)
		e.recovery("victim's metadata and logins", start, end, func(ev event) bool { return ev.victim && !victimMCP(ev) })
		e.recovery("other tenants", start, end, others)
		// What the victim's failed MCP requests looked like, and how long
		// they took.
		var lats []time.Duration
		st503 := 0
		for _, ev := range e.rec.window(evict, end+10*time.Second, victimMCP) {
			if !ev.ok {
				lats = append(lats, ev.lat)
				if ev.status == http.StatusServiceUnavailable {
					st503++
				}
			}
		}
		slices.Sort(lats)
		if len(lats) > 0 {
			e.note("victim's refused MCP requests: %d (503: %d), latency p50 %s, p99 %s, max %s", len(lats), st503,
				ms(percentile(lats, .5)), ms(percentile(lats, .99)), ms(percentile(lats, 1)))
		}
		firstOK := time.Duration(-1)
		for _, ev := range e.rec.window(end, 1<<62, func(ev event) bool { return victimMCP(ev) && ev.kind == kindCall }) {
			if ev.ok {
				firstOK = ev.at
				break
			}
		}
		if firstOK >= 0 {
			e.note("victim's first successful whoami after the restore: %.2f s after it", (firstOK - end).Seconds())
		} else {
			e.note("victim: no successful whoami after the restore within the window")
		}
		for _, k := range []string{kindMeta, kindInit, kindCall} {
			p := func(from, to time.Duration) string {
				var l []time.Duration
				for _, ev := range e.rec.window(from, to, func(ev event) bool { return !ev.victim && ev.kind == k }) {
					l = append(l, ev.lat)
				}
				slices.Sort(l)
				return ms(percentile(l, .5)) + " / " + ms(percentile(l, .99))
			}
			e.note("other tenants' %s p50 / p99: before the fault %s; provider failing, warm %s; after the PATCH %s",
				k, p(e.window, start), p(start, evict), p(evict, end))
		}
	}
}

// suspendDelete suspends the victim through the admin API, then deletes
// it, and checks that its keys are gone.
func suspendDelete(ctx context.Context, e *env) func() {
	id := e.tenants[victim].id
	e.at(ctx, e.o.FaultAt)
	sent := e.rec.now()
	st, body, err := e.c.admin(ctx, http.MethodPatch, "/"+id, map[string]string{"status": "suspended"})
	done := e.rec.mark(fmt.Sprintf("PATCH status=suspended answered %d", st))
	if err != nil || st != http.StatusOK {
		e.note("suspend failed: %d %s %v", st, body, err)
		return nil
	}
	e.at(ctx, e.o.FaultAt+10*time.Second)
	keys := e.countKeys(ctx, id)
	st, body, err = e.c.admin(ctx, http.MethodDelete, "/"+id, nil)
	deleted := e.rec.mark(fmt.Sprintf("DELETE answered %d %s", st, strings.TrimSpace(string(body))))
	if err != nil || st != http.StatusOK {
		e.note("delete failed: %d %s %v", st, body, err)
	}
	left := e.countKeys(ctx, id)
	e.note("keys of %s before the DELETE: %d; answer: %s; keys left right after it: %d", id, keys, strings.TrimSpace(string(body)), left)
	ctx = context.WithoutCancel(ctx)
	return func() {
		e.note("keys of %s left at the end of the window: %d", id, e.countKeys(ctx, id))
		st, _, _ = e.c.admin(ctx, http.MethodGet, "/"+id, nil)
		e.note("GET /admin/tenants/%s at the end: %d", id, st)

		// A request sent after the PATCH was answered must be refused; the
		// last one that was served tells how long the change took.
		var lastOK, firstRefused time.Duration = -1, -1
		byStatus := map[int]int{}
		for _, ev := range e.rec.window(sent, 1<<62, func(ev event) bool { return ev.victim }) {
			if ev.status == http.StatusOK || ev.status == http.StatusCreated || ev.status == http.StatusAccepted || ev.status == http.StatusNoContent ||
				ev.status == http.StatusFound || ev.status == http.StatusSeeOther {
				lastOK = max(lastOK, ev.at)
			} else if firstRefused < 0 && ev.status == http.StatusNotFound {
				firstRefused = ev.at
			}
			if ev.at >= done {
				byStatus[ev.status]++
			}
		}
		served := "none of the victim's requests sent after the PATCH was sent was served"
		if lastOK >= 0 {
			served = fmt.Sprintf("the last request served was sent at %.3f s (%+.3f s from the answer)", lastOK.Seconds(), (lastOK - done).Seconds())
		}
		e.note("victim: PATCH sent at %.3f s, answered at %.3f s; first 404 sent at %.3f s; %s",
			sent.Seconds(), done.Seconds(), firstRefused.Seconds(), served)
		e.note("victim's answers to requests sent after the PATCH was answered: %s", statusCounts(byStatus))
		after := map[int]int{}
		for _, ev := range e.rec.window(deleted, 1<<62, func(ev event) bool { return ev.victim }) {
			after[ev.status]++
		}
		e.note("victim's answers after the DELETE: %s", statusCounts(after))
		e.recovery("other tenants", sent, deleted, others)
	}
}

// countKeys counts the keys that carry the tenant's hash tag, on every
// master.
func (e *env) countKeys(ctx context.Context, id string) int {
	n := 0
	_ = e.eachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "*{"+id+"}*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		return iter.Err()
	})
	return n
}

// clusterFault kills every client connection of one master (normal and
// pub/sub), then stops another master with SIGSTOP for 2 s.
func clusterFault(ctx context.Context, e *env) func() {
	type master struct {
		addr string
		pid  int
	}
	var masters []master
	err := e.eachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			return err
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
				pid, _ := strconv.Atoi(v)
				masters = append(masters, master{c.Options().Addr, pid})
			}
		}
		return nil
	})
	if err != nil || len(masters) < 2 {
		e.note("cluster: cannot list the masters: %v (%d)", err, len(masters))
		return nil
	}
	slices.SortFunc(masters, func(a, b master) int { return strings.Compare(a.addr, b.addr) })
	admin := redis.NewClient(&redis.Options{Addr: masters[0].addr})
	defer admin.Close()

	e.at(ctx, e.o.FaultAt)
	var killed []string
	for _, typ := range []string{"normal", "pubsub"} {
		n, err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", typ, "SKIPME", "yes").Result()
		killed = append(killed, fmt.Sprintf("%s %v %v", typ, n, err))
	}
	kill := e.rec.mark("CLIENT KILL on " + masters[0].addr + ": " + strings.Join(killed, ", "))
	e.at(ctx, e.o.FaultAt+15*time.Second)
	stop := e.rec.mark(fmt.Sprintf("SIGSTOP master %s (pid %d)", masters[1].addr, masters[1].pid))
	if err := syscall.Kill(masters[1].pid, syscall.SIGSTOP); err != nil {
		e.note("SIGSTOP: %v", err)
		return nil
	}
	sleep(context.WithoutCancel(ctx), 2*time.Second)
	if err := syscall.Kill(masters[1].pid, syscall.SIGCONT); err != nil {
		e.note("SIGCONT: %v", err)
	}
	cont := e.rec.mark("SIGCONT")
	return func() {
		e.recovery("connections killed", kill, kill, func(ev event) bool { return ev.at < stop })
		e.recovery("master stopped 2 s", stop, cont, nil)
	}
}
