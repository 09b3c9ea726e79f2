// Package peerbench sets the tenant middleware of this module beside the
// other ways a Go server checks the tenant of a request, so that they can
// be measured side by side, in one run, on one machine:
//
//	bare             the handler alone
//	floor            attaches a tenant it already has: r.WithContext(context.WithValue(...))
//	redis-get        reads the tenant from Redis on every request (GET, JSON decode, status check)
//	ttl-map          the same behind a sync.Map whose entries expire (30 s, the tenancy cache's TTL)
//	dskit            grafana/dskit's tenant package: X-Scope-OrgID read and validated, no existence check
//	tenancy          this module's tenant middleware (middleware.Tenant, the Service's cache and resolver)
//	tenancy-service  Service.Middleware: the tenant middleware, the rate limit and the usage count, a tenant without a limit
//	tenancy-limited  Service.Middleware for a tenant with a rate limit far above the load
//
// The benchmark (bench.sh) runs them with go test -bench in interleaved
// rounds; cmd/peerserver serves one of them for wrk (wrk.sh). The peers
// live in a module of their own so that their dependencies (dskit brings
// gRPC) reach neither the library nor the examples module.
package peerbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	dskit "github.com/grafana/dskit/tenant"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/tenant"
)

// The tenants every peer knows, and the headers a request names them in.
const (
	// Tenant has no rate limit.
	Tenant = "acme"
	// Metered has a rate limit far above any load this machine makes, so
	// that every request is admitted, from a lease.
	Metered = "metered"
	// MeteredLimit is Metered's limit, in requests a minute.
	MeteredLimit = 1 << 30

	// Header names the tenant for every peer but dskit.
	Header = "X-Tenant-ID"
	// OrgHeader names it for dskit (its user.OrgIDHeaderName).
	OrgHeader = "X-Scope-OrgID"
)

// Names lists the peers in the order of the package documentation.
var Names = []string{"bare", "floor", "redis-get", "ttl-map", "dskit", "tenancy", "tenancy-service", "tenancy-limited"}

// Peer is one middleware under test, in front of the handler it was built
// with, and the tenant its requests name.
type Peer struct {
	Name    string
	Handler http.Handler
	// TenantID is the tenant the peer's requests name, in both Header and
	// OrgHeader.
	TenantID string
}

// Peers holds the peers and what they share: the Redis client and the
// tenancy Service.
type Peers struct {
	All     map[string]Peer
	Service *tenancy.Service

	rdb    redis.UniversalClient
	tenant func(http.Handler) http.Handler
}

// New builds every peer in front of app, on the Redis behind rdb, which
// must be empty of the keys it writes (tenant records of Tenant and
// Metered, and "peerbench:tenant:<id>" for the Redis peers). It waits
// until the Service knows the tenants and every peer answers 200.
func New(ctx context.Context, rdb redis.UniversalClient, app http.Handler) (*Peers, error) {
	svc, err := tenancy.New(tenancy.Config{
		Redis:          rdb,
		MultiTenant:    true,
		Identification: tenancy.ByHeader,
		Header:         Header,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	p := &Peers{All: map[string]Peer{}, Service: svc, rdb: rdb}
	if err := p.seed(ctx, rdb); err != nil {
		_ = svc.Close()
		return nil, err
	}
	// The Service's own tenant middleware, without its rate limit and
	// usage count: what the cost target of the tenant middleware is about.
	if p.tenant, err = middleware.Tenant(middleware.TenantConfig{
		Resolver: svc.Resolver(), Cache: svc.Cache(), OnRefused: func(*http.Request, middleware.Refusal) {},
	}); err != nil {
		_ = svc.Close()
		return nil, err
	}
	get := redisGet(rdb)
	add := func(name string, h http.Handler, id string) { p.All[name] = Peer{Name: name, Handler: h, TenantID: id} }
	add("bare", app, Tenant)
	add("floor", floor(app), Tenant)
	add("redis-get", RedisGet(get, app), Tenant)
	add("ttl-map", TTLMap(get, 30*time.Second, app), Tenant)
	add("dskit", Dskit(app), Tenant)
	add("tenancy", p.tenant(app), Tenant)
	add("tenancy-service", svc.Middleware(app), Tenant)
	add("tenancy-limited", svc.Middleware(app), Metered)
	for _, peer := range p.All {
		if err := warm(ctx, peer); err != nil {
			_ = svc.Close()
			return nil, err
		}
	}
	return p, nil
}

// Close stops the Service.
func (p *Peers) Close() error { return p.Service.Close() }

// seed writes the two tenants through the Service's store, and their
// records for the Redis peers.
func (p *Peers) seed(ctx context.Context, rdb redis.UniversalClient) error {
	for _, t := range []*tenant.Tenant{
		{ID: Tenant, Name: "ACME", Status: tenant.StatusActive},
		{ID: Metered, Name: "Metered", Status: tenant.StatusActive, Limits: tenant.Limits{RateLimit: MeteredLimit}},
	} {
		if _, err := p.Service.Store().Tenants().Create(ctx, t); err != nil {
			return fmt.Errorf("peerbench: create %s: %w", t.ID, err)
		}
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if err := rdb.Set(ctx, recordKey(t.ID), b, 0).Err(); err != nil {
			return fmt.Errorf("peerbench: seed %s: %w", t.ID, err)
		}
	}
	select {
	case <-p.Service.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// warm sends requests until the peer answers 200 (the Service's directory
// learns of the tenants through their events).
func warm(ctx context.Context, peer Peer) error {
	for {
		w := &discard{}
		peer.Handler.ServeHTTP(w, Request(peer.TenantID))
		if w.code == 0 || w.code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("peerbench: %s answers %d: %w", peer.Name, w.code, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Request returns a request naming id in both tenant headers.
func Request(id string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://bench/mcp", nil)
	r.Header.Set(Header, id)
	r.Header.Set(OrgHeader, id)
	return r
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// floorKey is the type of the floor's context key, floorCtx.
type floorKey struct{}

var floorCtx = &floorKey{}

// floor attaches a tenant it already has: the least any middleware that
// hands a tenant to the next handler costs.
func floor(next http.Handler) http.Handler {
	t := &tenant.Tenant{ID: Tenant, Name: "ACME", Status: tenant.StatusActive}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorCtx, t)))
	})
}

// errNoTenant is a tenant the store does not hold, or one not active.
var errNoTenant = errors.New("peerbench: no such tenant")

// getter reads a tenant.
type getter func(ctx context.Context, id string) (*tenant.Tenant, error)

func recordKey(id string) string { return "peerbench:tenant:" + id }

// redisGet reads a tenant's record from Redis and decodes it, as a
// middleware that keeps tenants in Redis does.
func redisGet(rdb redis.UniversalClient) getter {
	return func(ctx context.Context, id string) (*tenant.Tenant, error) {
		b, err := rdb.Get(ctx, recordKey(id)).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, errNoTenant
		}
		if err != nil {
			return nil, err
		}
		t := new(tenant.Tenant)
		if err := json.Unmarshal(b, t); err != nil {
			return nil, err
		}
		return t, nil
	}
}

// RedisGet is the middleware of a server that reads the tenant from Redis
// on every request: 400 without an ID, 404 for an unknown or inactive
// tenant, 503 when Redis fails.
func RedisGet(get getter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveWith(w, r, next, get)
	})
}

// serveWith resolves the header, reads the tenant with get and serves next
// with it in the request's context.
func serveWith(w http.ResponseWriter, r *http.Request, next http.Handler, get getter) {
	id := r.Header.Get(Header)
	if !tenant.ValidID(id) {
		http.Error(w, "invalid tenant", http.StatusBadRequest)
		return
	}
	t, err := get(r.Context(), id)
	switch {
	case errors.Is(err, errNoTenant) || (err == nil && !t.Active()):
		http.Error(w, "tenant not found", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "tenant store unavailable", http.StatusServiceUnavailable)
		return
	}
	next.ServeHTTP(w, r.WithContext(tenant.NewContext(r.Context(), t)))
}

// ttlEntry is one tenant of TTLMap and when it stops being served.
type ttlEntry struct {
	t       *tenant.Tenant
	expires time.Time
}

// TTLMap is RedisGet behind a sync.Map of the tenants read, each served
// for ttl without asking Redis again: the cache a server adds to RedisGet
// in a few lines. Unknown IDs are not remembered.
func TTLMap(get getter, ttl time.Duration, next http.Handler) http.Handler {
	var m sync.Map
	cached := func(ctx context.Context, id string) (*tenant.Tenant, error) {
		if v, ok := m.Load(id); ok {
			if e := v.(*ttlEntry); time.Now().Before(e.expires) {
				return e.t, nil
			}
		}
		t, err := get(ctx, id)
		if err != nil {
			return nil, err
		}
		m.Store(id, &ttlEntry{t: t, expires: time.Now().Add(ttl)})
		return t, nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveWith(w, r, next, cached)
	})
}

// Dskit is the tenant check of grafana/dskit (Cortex, Mimir, Loki, Tempo):
// the tenant package reads X-Scope-OrgID, validates it and puts it in the
// context; it does not check that the tenant exists. The 401 on failure is
// what dskit's own middleware.AuthenticateUser answers.
func Dskit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ctx, err := dskit.ExtractTenantIDFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
