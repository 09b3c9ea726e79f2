package mcpsession

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// HandleEvent ends the sessions of a tenant that was deleted or suspended,
// in the handler, and frees their places in the store (a deleted tenant's
// records went with it). Register it with the tenancy service:
//
//	svc.OnEvent(guard.HandleEvent)
//
// An update, or the creation of a tenant the guard holds sessions of (its
// deletion was missed), is checked by reading the tenant (Config.Tenants)
// in the background, and so is every tenant with sessions after a reset of
// the event subscription, when events may have been missed. HandleEvent
// does not block on the store or the handler.
func (g *Guard) HandleEvent(e store.Event) {
	switch e.Type {
	case store.EventDeleted:
		g.endTenants(map[string]bool{e.TenantID: true}, false)
	case store.EventUpdated, store.EventCreated:
		if g.holds(e.TenantID) {
			g.background(func() { g.check([]string{e.TenantID}) })
		}
	case store.EventReset:
		if ids := g.tenants(); len(ids) > 0 {
			g.background(func() { g.check(ids) })
		}
	}
}

// background runs fn on a goroutine that Close waits for.
func (g *Guard) background(fn func()) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return
	}
	g.work.Go(fn)
}

// holds reports whether the guard holds a session of the tenant, or a
// request of it naming none.
func (g *Guard) holds(tenantID string) bool {
	return slices.Contains(g.tenants(), tenantID)
}

// tenants returns the tenants the guard holds sessions of, or requests
// naming none.
func (g *Guard) tenants() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	seen := map[string]bool{}
	var ids []string
	add := func(s *session) {
		if !seen[s.tenantID] {
			seen[s.tenantID] = true
			ids = append(ids, s.tenantID)
		}
	}
	for _, s := range g.live {
		add(s)
	}
	for s := range g.loose {
		add(s)
	}
	return ids
}

// check reads each tenant and ends the sessions of those that are gone
// (but those opened in a tenant served without a record) or no longer
// active, and the sessions opened in an earlier tenant of a tenant's ID
// (deleted and created again). A tenant that cannot be read
// keeps its sessions: an outage of the store must not end every session.
func (g *Guard) check(ids []string) {
	gone, suspended := map[string]bool{}, map[string]bool{}
	current := map[string]*tenant.Tenant{}
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t, err := g.cfg.Tenants.Get(ctx, id)
		cancel()
		switch {
		case errors.Is(err, tenant.ErrNotFound):
			gone[id] = true
		case err != nil:
			g.log.Warn("mcpsession: reading a tenant after an event", "tenant", id, "error", err)
		case !t.Active():
			suspended[id] = true
		default:
			current[id] = t
		}
	}
	// A tenant the store does not have is gone, but for the sessions
	// opened while it was served without a record (from the host's
	// settings, as single-tenant mode serves tenant default, without
	// CreatedAt): the store never had it.
	if len(gone) > 0 {
		g.endMatching(func(s *session) bool { return gone[s.tenantID] && !s.created.IsZero() }, false)
	}
	g.endTenants(suspended, true)
	g.endEarlier(current)
}

// endEarlier ends, and frees, the sessions opened in an earlier tenant of
// the ID of a tenant in current.
func (g *Guard) endEarlier(current map[string]*tenant.Tenant) {
	if len(current) == 0 {
		return
	}
	g.endMatching(func(s *session) bool {
		t := current[s.tenantID]
		return t != nil && !s.of(t)
	}, true)
}

// endTenants ends the sessions of the tenants in ids, and cancels their
// requests naming none; with free their records are deleted too.
func (g *Guard) endTenants(ids map[string]bool, free bool) {
	if len(ids) == 0 {
		return
	}
	g.endMatching(func(s *session) bool { return ids[s.tenantID] }, free)
}

// endMatching ends the held sessions that match, and cancels the requests
// naming no session that match; with free the sessions' records are
// deleted too.
func (g *Guard) endMatching(match func(s *session) bool, free bool) {
	var ending []*session
	g.mu.RLock()
	for _, s := range g.live {
		if match(s) {
			ending = append(ending, s)
		}
	}
	for s := range g.loose {
		if match(s) {
			s.cancel()
		}
	}
	g.mu.RUnlock()
	for _, s := range ending {
		g.end(s, free)
	}
}

// sweepEvery ends idle sessions every period until Close.
func (g *Guard) sweepEvery(period time.Duration) {
	defer close(g.swept)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
			g.sweep()
		}
	}
}

// sweep ends the sessions idle for longer than the TTL, and extends in
// the store the sessions with a request in flight (an open event stream)
// that are due, so that a stream keeps its session alive.
func (g *Guard) sweep() {
	now := g.now()
	var idle, busy []*session
	g.mu.RLock()
	for _, s := range g.live {
		switch {
		case s.inflight.Load() > 0:
			if now.Sub(time.Unix(0, s.touched.Load())) >= g.touchEvery {
				busy = append(busy, s)
			}
		case now.Sub(time.Unix(0, s.seen.Load())) > g.ttl:
			idle = append(idle, s)
		}
	}
	g.mu.RUnlock()
	for _, s := range idle {
		g.end(s, true)
	}
	for _, s := range busy {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := g.cfg.Sessions.Touch(ctx, s.tenantID, s.id)
		cancel()
		switch {
		case err == nil:
			s.touched.Store(now.UnixNano())
		case errors.Is(err, store.ErrNotFound):
			g.end(s, false)
		default:
			g.log.Warn("mcpsession: extending a session in use", "tenant", s.tenantID, "error", err)
		}
	}
}

// Close ends every session the guard holds, in the handler, and frees
// their places in the store, and cancels the requests in flight naming no
// session; then the guard answers 503 to every request.
// Call it before closing the store's Redis client (and before the HTTP
// server's Shutdown waits for open event streams, which ending the
// sessions closes). It waits for the ends until ctx is done, and returns
// ctx's error if they did not all finish. Calling it again waits, as the
// first call does, for the ends the first call began (a host may call it
// from the HTTP server's shutdown hook and again on its way out).
func (g *Guard) Close(ctx context.Context) error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		g.closeDone = make(chan struct{})
		all := make([]*session, 0, len(g.live))
		for _, s := range g.live {
			all = append(all, s)
		}
		clear(g.live)
		for s := range g.loose {
			s.cancel()
		}
		close(g.stop)
		go g.endAll(all, g.closeDone)
	}
	done := g.closeDone
	g.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// endAll ends the sessions all, in the handler, and frees their places,
// then waits for the sweeper and the work in progress, and closes done.
func (g *Guard) endAll(all []*session, done chan struct{}) {
	defer close(done)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16) // store deletes in flight
	for _, s := range all {
		s.cancel()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			g.cfg.Ender.EndSession(s.id)
			g.free(s.tenantID, s.id)
		})
	}
	wg.Wait()
	<-g.swept
	g.work.Wait()
}
