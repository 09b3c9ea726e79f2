package tenancy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/seedmcp/tenancy/usage"
)

// Service is tenancy wired from one [Config]: the Redis stores, the tenant
// cache kept fresh by the store's events, the middleware that puts the
// tenant on every request, the per-tenant token verifiers and the admin
// API.
type Service struct {
	cfg      Config
	store    store.Backend
	verifier *oidcx.Verifier
	admin    http.Handler
	cache    *middleware.Cache
	domains  *middleware.Cache
	issuers  *middleware.Cache // token mode only
	dir      *middleware.Directory
	resolver resolve.Resolver
	chain    func(http.Handler) http.Handler
	usage    *usage.Recorder
	trail    *audit.Trail

	mu      sync.Mutex
	onEvent []func(store.Event)
	syncs   map[string]chan struct{} // the marks of Sync calls waiting

	ready     chan struct{}
	readyOnce sync.Once

	cancel     context.CancelFunc
	done       chan struct{}
	subscribed chan struct{}
	dirDone    chan struct{}
}

// New wires a Service from cfg and starts following the tenant events, so
// that a change made on any replica reaches this one's caches. Call Close
// to stop.
func New(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:        cfg,
		done:       make(chan struct{}),
		ready:      make(chan struct{}),
		subscribed: make(chan struct{}),
		dirDone:    make(chan struct{}),
		syncs:      make(map[string]chan struct{}),
	}
	s.store = cfg.Store
	if cfg.Redis != nil {
		// A change made through this replica's store reaches its caches
		// at once, not only when its event comes back from Redis.
		s.store = redisstore.New(cfg.Redis, redisstore.Config{ClientTTL: cfg.ClientTTL, SessionTTL: cfg.SessionTTL, OnChange: s.applyLocal}).Backend()
	}
	var src middleware.Getter = s.store.Tenants()
	tenantCache, domainCache := cfg.Cache, cfg.Cache
	if cfg.MultiTenant {
		// The replica knows which tenants, domains and token pairs exist,
		// so that a flood of made-up ones costs the store nothing and
		// never keeps a real tenant from being served. A registry that
		// cannot list them gets no directory: every uncached ID is then
		// read, within the cache's miss budget.
		if d, ok := s.store.Tenants().(store.Directory); ok {
			s.dir = middleware.NewDirectory(d, middleware.DirectoryConfig{Logger: cfg.Logger})
			tenantCache.Known, domainCache.Known = s.dir, s.dir.Domains()
		}
	} else {
		// One tenant, which may not be in the store at all: no directory.
		def := cfg.Default
		src = middleware.WithFallback(src, &def)
	}
	s.cache = middleware.NewCache(src, tenantCache)
	s.domains = middleware.NewCache(domainGetter(s.store.Tenants(), s.cache), domainCache)
	var issuers resolve.IssuerLookup
	if l, ok := s.store.Tenants().(store.IssuerLookup); ok && cfg.MultiTenant && cfg.Identification == ByToken {
		issuerCache := issuerCacheConfig(cfg.Cache)
		if s.dir != nil {
			// The directory knows the pairs too: a made-up one is
			// answered without a read and without spending the miss
			// budget, and a real one is read without being charged.
			issuerCache.Known = s.dir.Issuers()
		}
		s.issuers = middleware.NewCache(issuerGetter(l, s.cache), issuerCache)
		issuers = s.lookupIssuer
	}
	if s.resolver, err = cfg.resolver(s.lookupDomain, issuers); err != nil {
		return nil, err
	}
	// Usage is counted in memory and written every UsageInterval; the
	// audit trail keeps each tenant's admin changes, logins and refused
	// authentication.
	if s.usage, err = usage.New(usage.Config{Store: s.store.Usage(), Interval: cfg.UsageInterval, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	if s.trail, err = audit.New(audit.Config{Store: s.store.Audit(), MaxLen: cfg.AuditLength, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	onRefused := s.countRefusals(cfg.OnRefused)
	withTenant, err := middleware.Tenant(middleware.TenantConfig{
		Resolver:  s.resolver,
		Cache:     s.cache,
		OnRefused: onRefused,
		OnServed:  cfg.OnServed,
	})
	if err != nil {
		return nil, err
	}
	limit, err := middleware.RateLimit(middleware.RateLimitConfig{
		Leaser:    s.store,
		OnRefused: onRefused,
		Logger:    cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.chain = func(next http.Handler) http.Handler { return withTenant(limit(s.countServed(next))) }
	if s.verifier, err = oidcx.New(cfg.OIDC); err != nil {
		return nil, err
	}
	adminCfg := AdminConfig{
		Tenants:    s.store.Tenants(),
		APIKey:     cfg.AdminAPIKey,
		APIKeys:    cfg.AdminAPIKeys,
		Keys:       s.store.AdminKeys(),
		Usage:      s.store.Usage(),
		Audit:      s.trail,
		Logger:     cfg.Logger,
		ClientAddr: cfg.clientAddr(),
		OnChange:   s.apply,
	}
	if cfg.MultiTenant && cfg.Identification == BySubdomain {
		adminCfg.BaseDomain = cfg.BaseDomain
	}
	// A provider the verifier would never fetch from is refused when the
	// tenant is written.
	adminCfg.ProviderURL = s.verifier.CheckProviderURL
	adminCfg.Keyring = cfg.EncryptionKeys
	s.admin, err = NewAdminHandler(adminCfg)
	if err != nil {
		return nil, err
	}

	if !cfg.MultiTenant && !cfg.Default.OIDC.Configured() {
		cfg.Logger.Warn("tenancy: single-tenant mode without OIDC settings (OIDC_ISSUER, OIDC_AUDIENCE): " +
			"tenant default refuses every bearer token unless the host disables authentication")
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.usage.Start()
	go s.follow(ctx)
	go s.runDirectory(ctx)
	go s.becomeReady(ctx)
	return s, nil
}

// Middleware returns next behind the tenant middleware and the per-tenant
// rate limit: next runs only for an active tenant within its budget, and
// finds the tenant with [tenant.FromContext].
func (s *Service) Middleware(next http.Handler) http.Handler { return s.chain(next) }

// Admin returns the admin API (its routes are listed at [NewAdminHandler]),
// to be mounted at "/admin/" outside the tenant middleware. A change made
// through it is applied to this replica's caches and verifiers at once,
// and reaches the other replicas through the tenant events.
func (s *Service) Admin() http.Handler { return s.admin }

// Verifier returns the per-tenant token verifiers, which follow the tenant
// events: a changed or deleted tenant's verifier is dropped.
func (s *Service) Verifier() *oidcx.Verifier { return s.verifier }

// URLs returns the public URLs of each tenant's MCP endpoint and
// protected-resource metadata in the configured identification mode, with
// publicURL as the base (in subdomain mode its scheme and port, under the
// base domain): the URLs for oidcx.BearerConfig and oidcx.MetadataConfig.
func (s *Service) URLs(publicURL string) (*oidcx.ModeURLs, error) {
	return s.cfg.endpoints(publicURL)
}

// Store returns the store of tenants and their data: the redisstore on
// Config.Redis, or Config.Store. Its views are the store's own values, so
// a type assertion reaches their other methods (redisstore's Reindex, for
// one).
func (s *Service) Store() store.Backend { return s.store }

// Cache returns the tenant cache, for its statistics.
func (s *Service) Cache() *middleware.Cache { return s.cache }

// Resolver returns the resolver of the configured mode.
func (s *Service) Resolver() resolve.Resolver { return s.resolver }

// Config returns the configuration with its defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// OnEvent registers fn to be called for every tenant event this replica
// receives, after the Service has applied it to its own state: its tenant
// and domain caches, and the token verifiers (a changed or deleted
// tenant's verifier is dropped; fn need not do it). It is the place to
// drop the host's own per-tenant state, such as a cache of each tenant's
// settings. A change made through this replica's admin API is applied,
// hooks included, on the admin request's goroutine before it is answered,
// and again when its event arrives: fn may see one change twice, and may
// be called from several goroutines at once.
func (s *Service) OnEvent(fn func(store.Event)) {
	s.mu.Lock()
	s.onEvent = append(s.onEvent, fn)
	s.mu.Unlock()
}

// Directory returns what this replica knows of the tenants and custom
// domains that exist (nil in single-tenant mode), for its statistics.
func (s *Service) Directory() *middleware.Directory { return s.dir }

// Ready returns a channel that is closed once the service follows the
// tenant events, so that changes made on other replicas reach it, and (in
// multi-tenant mode) knows which tenants exist. A readiness probe can wait
// for it: until then this replica learns of a suspension only when its
// cache entries expire, and every uncached ID costs a store read.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Close stops following tenant events. It does not close Config.Redis.
//
// It writes the usage counted since the last interval (giving that write
// up to 10 seconds) and waits for the audit events being written, so that a
// replica stopped gracefully loses nothing; it returns the error of that
// last write. Close the Redis client after it. Requests may still be
// served meanwhile: a refusal [Service.AuthRefused] is given once Close
// waits for the audit writes is counted (in memory, not written) but not
// put in the trail.
func (s *Service) Close() error {
	s.cancel()
	<-s.done
	<-s.dirDone
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := s.usage.Close(ctx)
	s.trail.Close()
	if errors.Is(err, usage.ErrClosed) {
		return nil // closed before
	}
	return err
}

// closeTimeout bounds the last usage write of Close.
const closeTimeout = 10 * time.Second

// Usage returns the usage recorder, for the host to count what only it
// sees: tool calls by name (ToolCall), MCP sessions opened, logins through
// its OAuth authorization server, requests refused for authentication.
// The Service itself counts the requests it serves (past the tenant check
// and the rate limit) and those the rate limit refuses. Counts of a tenant
// the store does not hold are dropped when they are written, as are the
// audit events of one: in single-tenant mode, those of tenant "default"
// until its record is created (see Config.Default).
func (s *Service) Usage() *usage.Recorder { return s.usage }

// Audit returns the audit trail, for the host to record logins and
// refused authentication; the admin API records its own changes.
func (s *Service) Audit() *audit.Trail { return s.trail }

// AuthRefused counts a request of the tenant refused for its
// authentication and records it in the tenant's audit trail (at most once
// a second per tenant and reason): the hook for the host's bearer check.
// Once Close waits for the audit writes, the refusal is counted but not
// recorded.
func (s *Service) AuthRefused(tenantID, reason string) {
	s.usage.AuthRefused(tenantID)
	s.trail.AuthRefused(tenantID, reason)
}

// countServed counts every request that reaches the host's handler: past
// the tenant check and the rate limit.
func (s *Service) countServed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := tenant.IDFromContext(r.Context()); ok {
			s.usage.Served(id)
		}
		next.ServeHTTP(w, r)
	})
}

// countRefusals counts the rate limit's refusals, then hands every
// refusal to the host's hook.
func (s *Service) countRefusals(next func(*http.Request, middleware.Refusal)) func(*http.Request, middleware.Refusal) {
	return func(r *http.Request, f middleware.Refusal) {
		if f.Reason == middleware.ReasonRateLimited {
			s.usage.RateLimited(f.TenantID)
		}
		next(r, f)
	}
}

// runDirectory keeps the directory loaded until ctx is done.
func (s *Service) runDirectory(ctx context.Context) {
	defer close(s.dirDone)
	if s.dir != nil {
		_ = s.dir.Run(ctx)
	}
}

// becomeReady closes ready once the events are followed and the directory
// has loaded after the subscription started.
func (s *Service) becomeReady(ctx context.Context) {
	select {
	case <-s.subscribed:
	case <-ctx.Done():
		return
	}
	if s.dir != nil && s.dir.Wait(ctx) != nil {
		return
	}
	close(s.ready)
}

// follow applies tenant events until ctx is done, subscribing again after
// a back-off whenever the subscription fails outright.
func (s *Service) follow(ctx context.Context) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.store.Subscribe(ctx, s.apply)
		if ctx.Err() != nil {
			return
		}
		s.cfg.Logger.Warn("tenancy: tenant event subscription failed", "error", err, "retry", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// applyLocal hands a change made through this replica's store to its
// caches at once; the whole of apply follows when the event comes back.
func (s *Service) applyLocal(e store.Event) {
	s.cache.Handle(e)
	s.domains.InvalidateAll()
	if s.issuers != nil {
		s.issuers.InvalidateAll()
	}
}

// apply hands one event to the caches and the registered hooks.
func (s *Service) apply(e store.Event) {
	if e.Type == store.EventSync {
		s.synced(e.Mark)
		return
	}
	var waiting []string
	if e.Type == store.EventReset {
		// The Syncs waiting now are released by this reset; one that
		// begins while it is applied may follow a change made after the
		// caches were dropped (and the tenant read again), so it waits
		// for its own mark.
		waiting = s.waiting()
	}
	s.cache.Handle(e)
	// The verifiers compare a tenant's OIDC settings on every lookup, so a
	// missed event cannot leave a stale one in use: a reset needs no
	// eviction (which would refetch every tenant's keys), and a change
	// only frees the old verifier early.
	switch e.Type {
	case store.EventUpdated, store.EventDeleted:
		s.verifier.Invalidate(e.TenantID)
	}
	// Domain entries are keyed by host, and an event names the tenant,
	// so any change may move a domain or change its tenant's status:
	// expire them all (they stay available as stale answers while the
	// store is down).
	s.domains.InvalidateAll()
	if s.issuers != nil {
		// Likewise for the issuers and audiences of token mode.
		s.issuers.InvalidateAll()
	}
	s.mu.Lock()
	hooks := s.onEvent
	s.mu.Unlock()
	for _, fn := range hooks {
		fn(e)
	}
	if e.Type == store.EventReset {
		// Events may have been lost, a mark among them, but the reset
		// has just dropped everything they could have changed before
		// it began.
		s.synced(waiting...)
		// The subscription counts as started once its first reset is
		// applied whole, hooks included: a Sync that begins then waits
		// for its own mark, not for this reset, and a hook registered
		// then sees none of it.
		s.readyOnce.Do(func() { close(s.subscribed) })
	}
}

// Sync returns once every tenant event published before the call, by
// this replica or any other, has been applied on this one: its caches,
// its directory, its token verifiers and the hooks of [Service.OnEvent]
// have seen it. A change made through the admin API of any replica, or
// through a store's Tenants, publishes its event before it returns; so
// after the change and a Sync, a request is answered by the changed
// tenant:
//
//	_, err := svc.Store().Tenants().Update(ctx, suspended)
//	err = svc.Sync(ctx) // every replica that calls it now refuses the tenant
//
// This is mostly for tests, where waiting for an event otherwise means
// polling (memstore delivers its events on another goroutine), and for a
// host that must know a change is enforced before it answers. It costs a
// round trip to the store and the wait for the events ahead of the mark.
//
// Sync puts a mark in the stream of events (the store must be a
// [store.Marker], as both stores of this module are; otherwise it returns
// an error wrapping [errors.ErrUnsupported]) and waits until the mark comes
// back, or until the subscription is made again after a break and the new
// subscription's reset, begun after the call, has been applied: the reset
// expires everything cached, so that each tenant is read again (an entry
// is still served, past its expiry, while reading it fails: see
// middleware.CacheConfig.StaleTTL). It waits first for the subscription
// to start (see [Service.Ready]). It returns ctx's error if ctx ends first, the
// store's if the mark cannot be published, and an error after Close.
func (s *Service) Sync(ctx context.Context) error {
	m, ok := s.store.(store.Marker)
	if !ok {
		return fmt.Errorf("tenancy: sync: the store cannot mark its events: %w", errors.ErrUnsupported)
	}
	select {
	case <-s.subscribed:
	case <-s.done:
		return errClosed
	case <-ctx.Done():
		return fmt.Errorf("tenancy: sync: %w", ctx.Err())
	}
	mark, done := rand.Text(), make(chan struct{})
	s.mu.Lock()
	s.syncs[mark] = done
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.syncs, mark)
		s.mu.Unlock()
	}()
	if err := m.Mark(ctx, mark); err != nil {
		return fmt.Errorf("tenancy: sync: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-s.done:
		return errClosed
	case <-ctx.Done():
		return fmt.Errorf("tenancy: sync: %w", ctx.Err())
	}
}

var errClosed = errors.New("tenancy: sync: the service is closed")

// synced releases the Syncs waiting for marks. Marks of other replicas'
// Syncs, and of Syncs released already, match none.
func (s *Service) synced(marks ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, mark := range marks {
		if done, ok := s.syncs[mark]; ok {
			close(done)
			delete(s.syncs, mark)
		}
	}
}

// waiting returns the marks of the Syncs waiting.
func (s *Service) waiting() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	marks := make([]string, 0, len(s.syncs))
	for m := range s.syncs {
		marks = append(marks, m)
	}
	return marks
}

// lookupDomain resolves a custom domain through the domain cache. A
// domain nobody registered and a domain of an inactive tenant are both not
// found (a missing identifier, 400), so that the answer does not tell
// whether a suspended tenant is behind a domain.
func (s *Service) lookupDomain(ctx context.Context, host string) (string, error) {
	t, err := s.domains.Get(ctx, host)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// viaTenants adapts a store lookup that names a tenant by another key (a
// custom domain, an issuer and audience) to a cache, which then bounds,
// coalesces and serves stale answers for those keys like tenant answers.
// It answers with the tenant, read through the tenant cache, so that the
// key of an inactive tenant is remembered like a key that names nobody.
type viaTenants struct {
	what   string // "domain", "issuer and audience": for errors
	lookup func(ctx context.Context, key string) (string, error)
	cache  *middleware.Cache
	// keyOf returns the key a tenant's record claims: the tenant found
	// must still claim the key that named it.
	keyOf func(t *tenant.Tenant) string
}

func (g viaTenants) Get(ctx context.Context, key string) (*tenant.Tenant, error) {
	id, err := g.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if !tenant.ValidID(id) {
		return nil, fmt.Errorf("tenancy: %s %q names an invalid tenant ID: %w", g.what, key, tenant.ErrNotFound)
	}
	t, err := g.cache.Get(ctx, id)
	if err == nil && g.keyOf(t) != key {
		// A claim its tenant's record does not hold: left by a write
		// that failed midway, or by a tenant deleted and created again
		// under its ID. It leads nowhere, rather than to whoever holds
		// the ID now.
		return nil, fmt.Errorf("tenancy: %s %q is not tenant %q's: %w", g.what, key, id, tenant.ErrNotFound)
	}
	return t, err
}

// domainGetter is the getter of the domain cache.
func domainGetter(tenants store.Tenants, cache *middleware.Cache) viaTenants {
	return viaTenants{what: "domain", lookup: tenants.LookupDomain, cache: cache,
		keyOf: func(t *tenant.Tenant) string { return t.Domain }}
}

// lookupIssuer finds the tenant of a token's issuer and audience through
// the issuer cache, with the same answers as lookupDomain: a pair nobody
// trusts and the pair of an inactive tenant are both not found.
func (s *Service) lookupIssuer(ctx context.Context, issuer, audience string) (string, error) {
	t, err := s.issuers.Get(ctx, issuer+"\x00"+audience)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// issuerGetter is the getter of the issuer cache, keyed by the issuer and
// the audience joined by a NUL (which neither can hold), so that the pairs
// of tokens get positive and negative entries, coalesced reads and the
// miss budget like tenant IDs. With the directory's view of the pairs as
// its Known, a flood of tokens naming made-up pairs costs the store
// nothing and never keeps a real pair from being read; without a
// directory, it costs at most the cache's MissesPerSecond reads a second.
func issuerGetter(tenants store.IssuerLookup, cache *middleware.Cache) viaTenants {
	return viaTenants{what: "issuer and audience", cache: cache, lookup: func(ctx context.Context, key string) (string, error) {
		issuer, audience, _ := strings.Cut(key, "\x00")
		return tenants.LookupIssuer(ctx, issuer, audience)
	}, keyOf: func(t *tenant.Tenant) string { return t.OIDC.Issuer + "\x00" + t.OIDC.Audience }}
}

// maxIssuerNegative bounds the pairs nobody trusts that the issuer cache
// remembers: a key is up to 4 KiB (an issuer and an audience of up to 2
// KiB each), so the bound keeps them under 4 MiB.
const maxIssuerNegative = 1000

// issuerCacheConfig is the tenant cache's configuration for the issuer
// cache, with fewer negative entries and no Known (the tenant cache's
// knows tenant IDs, not pairs: New sets the directory's view of pairs).
func issuerCacheConfig(c middleware.CacheConfig) middleware.CacheConfig {
	if c.MaxNegative <= 0 || c.MaxNegative > maxIssuerNegative {
		c.MaxNegative = maxIssuerNegative
	}
	c.Known = nil
	return c
}
