package mcpsession

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Header is the header of the Streamable HTTP transport that carries the
// session ID, in requests and in the answer to an initialize request.
const Header = "Mcp-Session-Id"

// Defaults of [Config].
const (
	DefaultTTL          = 24 * time.Hour
	DefaultPerCaller    = 16
	DefaultTouchEvery   = time.Minute
	DefaultMaxBodyBytes = 4 << 20
)

// Ender ends sessions in the MCP handler the guard protects. An SDK's glue
// implements it.
type Ender interface {
	// EndSession ends the handler's session with this ID: the handler
	// forgets it and closes what it holds for it. Ending a session the
	// handler does not hold is not an error. The guard has already
	// cancelled the session's requests in flight when it calls
	// EndSession.
	EndSession(sessionID string)
}

// EnderFunc adapts a function to [Ender].
type EnderFunc func(sessionID string)

// EndSession calls f(sessionID).
func (f EnderFunc) EndSession(sessionID string) { f(sessionID) }

var _ Ender = EnderFunc(nil)

// TenantGetter reads a tenant by ID; store.Tenants is one.
type TenantGetter interface {
	Get(ctx context.Context, id string) (*tenant.Tenant, error)
}

// Config configures a [Guard]. Sessions, Tenants and Ender are required;
// every other field has a working zero value.
type Config struct {
	// Sessions records each session under its tenant, with its owner, and
	// enforces the limits.
	Sessions store.Sessions
	// Tenants is read after a tenant event, to learn whether a tenant
	// whose sessions the guard holds was suspended.
	Tenants TenantGetter
	// Ender ends sessions in the MCP handler.
	Ender Ender
	// TTL is how long a session lives without a request: the session
	// store's lifetime (tenancy.Config.SessionTTL).
	// default: 24 hours
	TTL time.Duration
	// PerCaller is the most sessions one caller (issuer and subject) may
	// hold in one tenant; all anonymous callers of a tenant count as one
	// caller. An open session costs about 12 KB in the process with
	// either of the SDKs the examples glue, and about 440 bytes in Redis,
	// so the default bounds one caller at about 200 KB per tenant, where
	// a tenant without maxSessions would otherwise let one caller take
	// the server's memory. A negative value means no per-caller limit.
	// default: 16
	PerCaller int
	// TouchEvery is how often a session in use has its lifetime extended
	// in the store: the requests in between cost no store round trip. It
	// is also how soon the guard notices a session deleted from the store
	// behind its back. A negative value touches on every request.
	// default: 1 minute, and never more than TTL/4
	TouchEvery time.Duration
	// MaxBodyBytes bounds the body of a request without a session ID,
	// which the guard reads to find the ID of the request to echo in a
	// refusal; a larger body is answered 413.
	// default: 4 MiB (the official Go SDK's own limit)
	MaxBodyBytes int64
	// Logger receives the failures of the session store and of the
	// tenant lookups. Session IDs are never logged. A store call that
	// failed because the request's client hung up (its context canceled)
	// is no failure of the store: it is logged at debug level, so that a
	// flood of hang-ups is no flood of errors.
	// default: slog.Default()
	Logger *slog.Logger
	// Now returns the current time; tests move it to make sessions idle.
	// default: time.Now
	Now func() time.Time
	// OnOpen is called with the tenant's ID for every session opened
	// (recorded in the store and held), for usage counting
	// (usage.Recorder.SessionOpened). It runs on the request's goroutine
	// and must not block.
	// default: nil
	OnOpen func(tenantID string)
}

// Guard is an http.Handler that serves an MCP handler's requests only
// within the sessions of the request's tenant and caller. Create one with
// [New]; it must sit behind the tenant middleware (and the bearer check,
// when the host authenticates callers).
type Guard struct {
	cfg        Config
	next       http.Handler
	log        *slog.Logger
	now        func() time.Time
	ttl        time.Duration
	touchEvery time.Duration // <= 0: every request
	perCaller  int           // <= 0: no limit

	mu   sync.RWMutex
	live map[string]*session // by session ID
	// loose are the requests in flight that name no session (an
	// initialize; any request of a protocol without sessions, its
	// subscriptions/listen stream included), each as a session of its own
	// that is not held and whose ctx is the request's: the tenant's
	// suspension, deletion or creation again and Close cancel them as
	// they end the held sessions.
	loose  map[*session]struct{}
	closed bool
	// closeDone is closed when the first Close has ended every session
	// and freed its place; later calls wait for it.
	closeDone chan struct{}

	stop  chan struct{}
	swept chan struct{}  // closed when the sweeper has stopped
	work  sync.WaitGroup // tenant checks and ends in progress
}

// session is a session the guard admitted and the handler holds.
type session struct {
	id       string
	tenantID string
	// created is the CreatedAt of the tenant the session was opened in:
	// a tenant deleted and created again under its ID is another tenant.
	created time.Time
	owner   store.Owner
	// ctx is cancelled when the session ends; the requests of the session
	// run on contexts that end with it.
	ctx    context.Context
	cancel context.CancelFunc

	seen     atomic.Int64 // unix nanoseconds of the last request's start or end
	touched  atomic.Int64 // unix nanoseconds of the last extension in the store
	inflight atomic.Int32
}

var _ http.Handler = (*Guard)(nil)

// New returns a guard in front of next, the MCP handler. It starts a
// goroutine that ends idle sessions; [Guard.Close] stops it.
func New(next http.Handler, cfg Config) (*Guard, error) {
	switch {
	case next == nil:
		return nil, errors.New("mcpsession: the MCP handler is nil")
	case cfg.Sessions == nil:
		return nil, errors.New("mcpsession: Config.Sessions is required")
	case cfg.Tenants == nil:
		return nil, errors.New("mcpsession: Config.Tenants is required")
	case cfg.Ender == nil:
		return nil, errors.New("mcpsession: Config.Ender is required")
	}
	g := &Guard{cfg: cfg, next: next, log: cfg.Logger, now: cfg.Now, ttl: cfg.TTL,
		perCaller: cfg.PerCaller, touchEvery: cfg.TouchEvery,
		live: map[string]*session{}, loose: map[*session]struct{}{}, stop: make(chan struct{}), swept: make(chan struct{})}
	g.log = cmp.Or(g.log, slog.Default())
	conf.Clock(&g.now)
	conf.Default(&g.ttl, DefaultTTL)
	g.perCaller = cmp.Or(g.perCaller, DefaultPerCaller)
	g.touchEvery = cmp.Or(g.touchEvery, DefaultTouchEvery)
	if g.touchEvery > g.ttl/4 {
		g.touchEvery = g.ttl / 4
	}
	conf.Default(&g.cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	go g.sweepEvery(min(g.ttl/4, time.Minute))
	return g, nil
}

// Len returns the number of sessions the guard holds.
func (g *Guard) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.live)
}

// OwnerFromContext returns the caller of a request as the guard sees it:
// the issuer and subject of the token the bearer middleware verified, and
// the zero Owner for an anonymous request.
func OwnerFromContext(ctx context.Context) store.Owner {
	if c, ok := oidcx.ClaimsFromContext(ctx); ok {
		return store.Owner{Issuer: c.Issuer, Subject: c.Subject}
	}
	return store.Owner{}
}

// ServeHTTP serves r through the MCP handler when r may use the session it
// names, and records the session the handler issues to a request without
// one.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, ok := tenant.FromContext(ctx)
	if !ok {
		g.log.ErrorContext(ctx, "mcpsession: a request without a tenant: put the guard behind the tenant middleware")
		writeError(w, http.StatusInternalServerError, nil, CodeInternal, msgInternal)
		return
	}
	if c, ok := oidcx.ClaimsFromContext(ctx); ok && c.TenantID != t.ID {
		g.log.ErrorContext(ctx, "mcpsession: the token was verified for another tenant than the request's: put the bearer check behind the tenant middleware",
			"tenant", t.ID)
		writeError(w, http.StatusInternalServerError, nil, CodeInternal, msgInternal)
		return
	}
	ids := r.Header.Values(Header)
	switch {
	case len(ids) > 1:
		writeError(w, http.StatusBadRequest, nil, CodeInvalidRequest, msgRepeated)
	case g.isClosed():
		writeError(w, http.StatusServiceUnavailable, nil, CodeUnavailable, msgClosing)
	case len(ids) == 0 || ids[0] == "":
		g.serveNew(w, r, t)
	default:
		g.serveSession(w, r, t, ids[0])
	}
}

func (g *Guard) isClosed() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.closed
}

// notFound answers a session the request may not use.
func notFound(w http.ResponseWriter) { writeBody(w, http.StatusNotFound, notFoundBody) }

// serveSession serves a request that names session id.
func (g *Guard) serveSession(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, id string) {
	owner := OwnerFromContext(r.Context())
	g.mu.RLock()
	s := g.live[id]
	g.mu.RUnlock()
	if s == nil {
		g.serveStored(w, r, t, owner, id)
		return
	}
	// The owner is checked first: a request that may not use the session
	// changes nothing about it, its lifetime included.
	if s.tenantID != t.ID || s.owner != owner {
		notFound(w)
		return
	}
	if !s.of(t) {
		// Its tenant was deleted and the ID created again, and the guard
		// missed the events: the session went with the old tenant.
		g.end(s, true)
		notFound(w)
		return
	}
	now := g.now()
	if s.inflight.Load() == 0 && now.Sub(time.Unix(0, s.seen.Load())) > g.ttl {
		g.end(s, true)
		notFound(w)
		return
	}
	if last := s.touched.Load(); now.Sub(time.Unix(0, last)) >= g.touchEvery &&
		s.touched.CompareAndSwap(last, now.UnixNano()) {
		switch err := g.cfg.Sessions.Touch(r.Context(), t.ID, id); {
		case err == nil:
		case errors.Is(err, store.ErrNotFound):
			// Deleted behind the guard's back, or expired: the handler's
			// session goes too.
			g.end(s, false)
			notFound(w)
			return
		default:
			s.touched.CompareAndSwap(now.UnixNano(), last)
			g.storeError(r.Context(), "mcpsession: extending a session", t.ID, err)
			writeError(w, http.StatusServiceUnavailable, nil, CodeUnavailable, msgUnavailable)
			return
		}
	}
	s.inflight.Add(1)
	s.seen.Store(now.UnixNano())
	ctx, cancel := requestContext(r, r.Method == http.MethodGet || sessionless(r))
	stop := context.AfterFunc(s.ctx, cancel)
	defer func() {
		stop()
		cancel()
		s.seen.Store(g.now().UnixNano())
		s.inflight.Add(-1)
	}()
	r = r.WithContext(ctx)
	if r.Method != http.MethodDelete {
		g.next.ServeHTTP(w, r)
		return
	}
	// Ended by the handler, or unknown to it: the place is freed before
	// the answer leaves, so that a client that opens a new session right
	// after its DELETE finds it free. It is freed here even when the
	// SDK's glue reported the end first (Ended), since that report's own
	// free may still be on its way to the store.
	sw := &statusWriter{ResponseWriter: w, before: func(status int) {
		if status/100 == 2 || status == http.StatusNotFound {
			g.drop(s)
			g.free(s.tenantID, s.id)
		}
	}}
	g.next.ServeHTTP(sw, r)
	sw.done()
}

// requestContext returns the context a request of a held session runs
// on, which the session's end cancels too, or a request naming no
// session. With bounded, it ends when the token the request came with
// expires (its exp, with the verifier's default skew, oidcx.DefaultSkew):
// a GET, the session's event stream, and every request of a protocol
// without sessions or naming none, of which a subscriptions/listen stream
// is one, stay open as long as the client keeps them, and deliver nothing
// to a caller whose token has lapsed; the client opens them again with a
// valid one.
func requestContext(r *http.Request, bounded bool) (context.Context, context.CancelFunc) {
	if c, ok := oidcx.ClaimsFromContext(r.Context()); ok && bounded && !c.Expiry.IsZero() {
		return context.WithDeadline(r.Context(), c.Expiry.Add(oidcx.DefaultSkew))
	}
	return context.WithCancel(r.Context())
}

// sessionless reports whether r speaks a protocol without sessions
// (2026-07-28 and later, by its MCP-Protocol-Version header, as the SDKs
// tell): an SDK serves it whatever session it names, and its
// subscriptions/listen stream stays open as long as the client keeps it.
func sessionless(r *http.Request) bool {
	return r.Header.Get("Mcp-Protocol-Version") >= "2026-07-28"
}

// serveStored serves a request naming a session this guard does not hold
// (one the guard of another replica admitted, say): only when the
// tenant's store holds it for the same owner. The owner is read before
// the session is touched.
func (g *Guard) serveStored(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, owner store.Owner, id string) {
	if store.ValidKey(id) != nil {
		notFound(w)
		return
	}
	ctx := r.Context()
	rec, err := g.cfg.Sessions.Get(ctx, t.ID, id)
	if err == nil && store.OwnerOf(rec) != owner {
		notFound(w)
		return
	}
	if err == nil {
		err = g.cfg.Sessions.Touch(ctx, t.ID, id)
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		notFound(w)
		return
	default:
		g.storeError(ctx, "mcpsession: reading a session", t.ID, err)
		writeError(w, http.StatusServiceUnavailable, nil, CodeUnavailable, msgUnavailable)
		return
	}
	// The handler does not hold the session (its replica is gone, or it
	// ended the session without telling the guard), or just ended it: its
	// place is freed before the answer leaves. The guard holds no session
	// for the request, which runs as one naming none.
	r, done, ok := g.track(w, r, t, nil)
	if !ok {
		return
	}
	defer done()
	sw := &statusWriter{ResponseWriter: w, before: func(status int) {
		if status == http.StatusNotFound || (r.Method == http.MethodDelete && status/100 == 2) {
			g.free(t.ID, id)
		}
	}}
	g.next.ServeHTTP(sw, r)
	sw.done()
}

// serveNew serves a request without a session ID: the session the
// handler issues in its answer, if any, is admitted before the answer
// leaves.
func (g *Guard) serveNew(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	var reqID []byte
	if r.Method == http.MethodPost && r.Body != nil {
		// The body is read here for the ID to echo in a refusal; the
		// handler then reads it again from memory.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
		if err != nil {
			status := http.StatusBadRequest
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
				status = http.StatusRequestEntityTooLarge
			}
			writeError(w, status, nil, CodeInvalidRequest, msgBody)
			return
		}
		reqID = requestID(body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	r, done, ok := g.track(w, r, t, reqID)
	if !ok {
		return
	}
	defer done()
	aw := &admitWriter{ResponseWriter: w, g: g, ctx: r.Context(), tenant: t,
		owner: OwnerFromContext(r.Context()), reqID: reqID, saved: w.Header().Clone()}
	g.next.ServeHTTP(aw, r)
	aw.finish()
}

// track counts a request naming no session among the loose ones until
// the returned function is called, and returns it on the context it runs
// on: it ends with the request's token, and when the tenant's sessions or
// the guard's end. Once the guard is closed, it answers the request 503
// (echoing reqID) and reports false.
func (g *Guard) track(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, reqID json.RawMessage) (*http.Request, func(), bool) {
	s := &session{tenantID: t.ID, created: t.CreatedAt}
	s.ctx, s.cancel = requestContext(r, true)
	g.mu.Lock()
	closed := g.closed
	if !closed {
		g.loose[s] = struct{}{}
	}
	g.mu.Unlock()
	if closed {
		s.cancel()
		writeError(w, http.StatusServiceUnavailable, reqID, CodeUnavailable, msgClosing)
		return nil, nil, false
	}
	return r.WithContext(s.ctx), func() {
		g.mu.Lock()
		delete(g.loose, s)
		g.mu.Unlock()
		s.cancel()
	}, true
}

// admit records a session the handler issued, for the tenant and the
// owner, and starts holding it.
func (g *Guard) admit(ctx context.Context, t *tenant.Tenant, owner store.Owner, id string) error {
	if err := store.ValidKey(id); err != nil {
		return err
	}
	limits := store.SessionLimits{MaxSessions: t.Limits.MaxSessions, PerOwner: max(g.perCaller, 0)}
	if _, err := g.cfg.Sessions.Admit(ctx, t.ID, id, owner, limits); err != nil {
		return err
	}
	now := g.now().UnixNano()
	s := &session{id: id, tenantID: t.ID, created: t.CreatedAt, owner: owner}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.seen.Store(now)
	s.touched.Store(now)
	g.mu.Lock()
	closed := g.closed
	if !closed {
		g.live[id] = s
	}
	g.mu.Unlock()
	if closed {
		s.cancel()
		g.free(t.ID, id)
		return errClosed
	}
	if g.cfg.OnOpen != nil {
		g.cfg.OnOpen(t.ID)
	}
	return nil
}

var errClosed = errors.New("mcpsession: closed")

// of reports whether s was opened in t, not in an earlier tenant of the
// same ID: the two CreatedAt match, or one of them is unknown (a tenant
// served from the host's settings, without a record, has none).
func (s *session) of(t *tenant.Tenant) bool {
	return s.tenantID == t.ID && (s.created.IsZero() || t.CreatedAt.IsZero() || s.created.Equal(t.CreatedAt))
}

// end ends a held session: it is no longer served, its requests in flight
// are cancelled, and in the background the handler ends it and, with
// free, its record is deleted from the store. The handler may take its
// time: the official Go SDK, for one, waits for the session's requests to
// return.
func (g *Guard) end(s *session, free bool) {
	if !g.drop(s) {
		return
	}
	g.background(func() {
		g.cfg.Ender.EndSession(s.id)
		if free {
			g.free(s.tenantID, s.id)
		}
	})
}

// forget stops holding a session the handler has ended, and frees its
// place in the store.
func (g *Guard) forget(s *session) {
	if g.drop(s) {
		g.free(s.tenantID, s.id)
	}
}

// drop removes s from the held sessions and cancels its requests; it
// reports whether s was still held.
func (g *Guard) drop(s *session) bool {
	g.mu.Lock()
	held := g.live[s.id] == s
	if held {
		delete(g.live, s.id)
	}
	g.mu.Unlock()
	if held {
		s.cancel()
	}
	return held
}

// storeError logs a failure of the session store met while serving a
// request: as an error, unless the request's client hung up.
func (g *Guard) storeError(ctx context.Context, msg, tenantID string, err error) {
	level := slog.LevelError
	if errors.Is(ctx.Err(), context.Canceled) {
		level = slog.LevelDebug
	}
	g.log.Log(ctx, level, msg, "tenant", tenantID, "error", err)
}

// free deletes a session's record, on a context of its own: it runs after
// the request that ended the session, or on none.
func (g *Guard) free(tenantID, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.cfg.Sessions.Delete(ctx, tenantID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		g.log.Warn("mcpsession: freeing a session", "tenant", tenantID, "error", err)
	}
}

// Ended tells the guard that the MCP handler ended a session on its own
// (its own idle timeout, a failed initialize, a broken keepalive): the
// session's place in the store is freed. An SDK's glue calls it; a session
// the guard does not hold is ignored.
func (g *Guard) Ended(sessionID string) {
	g.mu.RLock()
	s := g.live[sessionID]
	g.mu.RUnlock()
	if s != nil {
		g.forget(s)
	}
}
