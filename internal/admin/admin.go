package admin

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Defaults of [Config].
const (
	DefaultMaxFailures   = 10
	DefaultFailureWindow = time.Minute
	DefaultMaxTracked    = 10000
	// MaxBodyBytes bounds a request body (64 KiB); a larger body is 413.
	MaxBodyBytes = 64 << 10
	// KeyHeader carries the admin API key.
	KeyHeader = "X-Admin-API-Key"
)

// ErrConfig is wrapped by the error [New] returns for a bad configuration.
var ErrConfig = errors.New("admin: invalid configuration")

// Config configures the admin API: [New] here, tenancy.NewAdminHandler
// (whose AdminConfig is this type) for hosts, and the Service, which fills
// it from its own configuration. Only Tenants is required.
type Config struct {
	// Tenants is the registry the API manages; with redisstore its Delete
	// removes every key of the tenant and publishes the change, so every
	// replica's caches drop the tenant. Required.
	Tenants store.Tenants
	// APIKey is an operator key: the secret a request carries in
	// X-Admin-API-Key to do anything. It is compared in constant time and
	// never logged. When neither APIKey nor APIKeys holds a key the API is
	// closed: every request is answered 503.
	APIKey string
	// APIKeys are further operator keys, so that a key can be rotated:
	// add the new one, move the operators to it, remove the old one.
	// Empty entries are ignored. An operator key's ID in the audit trail
	// and the log is "operator-<n>", n its position counting APIKey
	// first (so "operator-1" is APIKey when it is set), never the key.
	// default: none
	APIKeys []string
	// Keys holds the tenant admin keys. With it, operators can give a
	// tenant keys of its own (POST /admin/tenants/{id}/keys) that read
	// the tenant, its usage and its audit trail and may change its name
	// and oidc, nothing else. A key is shown once and stored as its
	// SHA-256 only. Without it the keys routes answer 404 and only
	// operator keys are accepted.
	// default: nil
	Keys store.AdminKeys
	// Usage answers GET /admin/tenants/{id}/usage; without it the route
	// answers 404.
	// default: nil
	Usage store.Usage
	// Audit receives an event for every change requested of a tenant
	// with a valid key (never for a refused key), and answers GET
	// /admin/tenants/{id}/audit; without it there is no trail and the
	// route answers 404.
	// default: nil
	Audit *audit.Trail
	// Logger receives one audit line per request and per refusal: action,
	// tenant, remote address, status and outcome; never a key or a body.
	// default: slog.Default()
	Logger *slog.Logger
	// ClientAddr returns the address that failed keys are counted
	// against: after MaxFailures failures within FailureWindow the
	// address is answered 429 until the window is over. An IPv6 address
	// counts by its /64, the block one host is given, so that a host
	// cannot take a fresh address for each guess; the log line and the
	// audit trail name the address itself. Behind reverse
	// proxies, use the ClientAddr method of a resolve.Proxies, which
	// believes the forwarding header only from the trusted proxies'
	// addresses (tenancy.New wires it from Config.TrustedProxies):
	// counted by the proxy's own address, one outsider would lock out
	// every operator. A header that clients can forge (X-Forwarded-For
	// read from any address) MUST NOT be used, since it would give an
	// attacker a fresh address for every guess.
	// default: the IP of r.RemoteAddr
	ClientAddr func(r *http.Request) string
	// OnChange is called after every successful create, update and
	// delete, on the request's goroutine, so that the host can drop what
	// it keeps about the tenant on this replica at once (its cached
	// tenant, its token verifier). Other replicas learn of the change
	// through the store's events. It must not block.
	// default: nil
	OnChange func(store.Event)
	// BaseDomain is the domain tenants are subdomains of, in subdomain
	// mode. A custom domain equal to it or under it is refused (400): the
	// subdomain resolver answers those hosts itself and never looks them
	// up, so such a domain could never reach its tenant. tenancy.New sets
	// it in subdomain mode.
	// default: "" (no such rule)
	BaseDomain string
	// ProviderURL checks each OIDC URL of a tenant (issuer, jwksUri,
	// tokenUrl, authorizationUrl, revocationUrl) beyond the tenant rules;
	// a URL it refuses is a 400. tenancy.New sets it to its verifier's
	// oidcx.Verifier.CheckProviderURL, so that a tenant whose provider
	// the verifier would never fetch from (one on loopback, unless
	// Config.OIDC.InsecureAllowLoopback is set) is refused when written
	// rather than on every request.
	// default: nil (the tenant rules only)
	ProviderURL func(string) error
	// Keyring seals the oidc.clientSecret of a tenant's OAuth proxy (its
	// upstream client's secret), which a POST or PATCH gives in clear,
	// bound to the tenant, before the tenant is stored. The secret is
	// write-only: answers say only "clientSecretSet": true or false
	// inside oidc (for a tenant with oidc.clientId), no log line or audit
	// event carries it, a merge patch that does not name it keeps it, and
	// null removes it. A tenant written while its secret is sealed with a
	// key other than the keyring's first is sealed again with the first,
	// so that rotating keys is: put the new key first, write every tenant
	// (any PATCH), drop the old key. tenancy.New sets it from
	// Config.EncryptionKeys.
	// default: nil (a body that gives oidc.clientSecret is a 400)
	Keyring *keyring.Keyring
	// MaxFailures failed keys from one address within FailureWindow
	// close the API to that address until the window is over.
	// default: DefaultMaxFailures (10)
	MaxFailures int
	// FailureWindow is the window failures are counted in.
	// default: DefaultFailureWindow (1 minute)
	FailureWindow time.Duration
	// MaxTracked bounds the addresses the failure tracker remembers.
	// default: DefaultMaxTracked (10000)
	MaxTracked int
	// Now is the clock of the failure tracker, of key creation and last
	// use, and of the usage route's default day.
	// default: time.Now
	Now func() time.Time
}

// Handler is the admin API. Mount it at "/admin/": it answers the tenant
// routes and a JSON 404 for anything else under it.
type Handler struct {
	cfg       Config
	log       *slog.Logger
	operators [][sha256.Size]byte // the hashes of the operator keys
	closed    bool
	failures  *failures
	mux       *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns the admin API handler. A missing store is an error; a
// missing key is not (the API is then closed, never open).
func New(cfg Config) (*Handler, error) {
	if cfg.Tenants == nil {
		return nil, errors.Join(ErrConfig, errors.New("admin: Tenants is required"))
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = remoteIP
	}
	// Host names compare without case and without a trailing dot.
	cfg.BaseDomain = strings.TrimSuffix(strings.ToLower(cfg.BaseDomain), ".")
	conf.Default(&cfg.MaxFailures, DefaultMaxFailures)
	conf.Default(&cfg.FailureWindow, DefaultFailureWindow)
	conf.Default(&cfg.MaxTracked, DefaultMaxTracked)
	conf.Clock(&cfg.Now)
	h := &Handler{
		cfg:      cfg,
		log:      cfg.Logger,
		failures: newFailures(cfg.MaxFailures, cfg.FailureWindow, cfg.MaxTracked),
	}
	for _, k := range append([]string{cfg.APIKey}, cfg.APIKeys...) {
		if k != "" {
			h.operators = append(h.operators, sha256.Sum256([]byte(k)))
		}
	}
	h.closed = len(h.operators) == 0
	// The keys' hashes are all the handler keeps; the keys themselves
	// are not needed after this point.
	h.cfg.APIKey, h.cfg.APIKeys = "", nil
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	m.Handle("POST /admin/tenants", h.op("tenant.create", operators, h.create))
	m.Handle("GET /admin/tenants", h.op("tenant.list", operators, h.list))
	m.Handle("GET /admin/tenants/{id}", h.op("tenant.get", tenantKeys, h.get))
	m.Handle("PATCH /admin/tenants/{id}", h.op("tenant.update", tenantKeys, h.update))
	m.Handle("DELETE /admin/tenants/{id}", h.op("tenant.delete", operators, h.delete))
	// Method-less patterns catch the other methods, so that a 405 is
	// JSON too (ServeMux's own is text), and "/" catches every unknown
	// path. Both come after the key check: without a key nobody learns
	// which routes exist.
	m.Handle("/admin/tenants", h.op("method", tenantKeys, notAllowed))
	m.Handle("/admin/tenants/{id}", h.op("method", tenantKeys, notAllowed))
	if h.cfg.Usage != nil {
		m.Handle("GET /admin/tenants/{id}/usage", h.op("usage.get", tenantKeys, h.usage))
		m.Handle("/admin/tenants/{id}/usage", h.op("method", tenantKeys, notAllowed))
	}
	if h.cfg.Audit != nil {
		m.Handle("GET /admin/tenants/{id}/audit", h.op("audit.get", tenantKeys, h.audit))
		m.Handle("/admin/tenants/{id}/audit", h.op("method", tenantKeys, notAllowed))
	}
	if h.cfg.Keys != nil {
		m.Handle("POST /admin/tenants/{id}/keys", h.op("key.create", operators, h.createKey))
		m.Handle("GET /admin/tenants/{id}/keys", h.op("key.list", operators, h.listKeys))
		m.Handle("DELETE /admin/tenants/{id}/keys/{keyId}", h.op("key.revoke", operators, h.revokeKey))
		m.Handle("/admin/tenants/{id}/keys", h.op("method", tenantKeys, notAllowed))
		m.Handle("/admin/tenants/{id}/keys/{keyId}", h.op("method", tenantKeys, notAllowed))
	}
	m.Handle("/", h.op("route", tenantKeys, func(*http.Request, principal) reply {
		return fail(http.StatusNotFound, "Not found")
	}))
	h.mux = m
}

// scope says who may use a route.
type scope int

const (
	// operators: operator keys only; a tenant key gets 403 (404 when the
	// route names another tenant).
	operators scope = iota
	// tenantKeys: operator keys, and tenant keys on their own tenant's
	// routes; another tenant's routes answer a tenant key 404.
	tenantKeys
)

// ServeHTTP answers one admin request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// reply is what an operation answers. Every write and every audit line goes
// through [Handler.op], so no answer can forget its log line or its headers.
type reply struct {
	status int
	// body is marshalled as the JSON answer of a success.
	body any
	// msg is the error message of a failure; it is shown to the client.
	msg string
	// tenant is the tenant the operation was about, for the log; only
	// ever a valid ID, so a crafted path cannot smuggle text into logs.
	tenant string
	// cause is an internal error: logged, never shown.
	cause error
	// retryAfter, when positive, becomes a Retry-After header.
	retryAfter time.Duration
	// location, when set, becomes a Location header.
	location string
	// etag, when set, becomes an ETag header.
	etag string
	// fields are the names of the tenant's fields a change set (or, when
	// refused, asked to set), for the audit trail; never their values.
	fields []string
	// target is what the request was about within the tenant (an admin
	// key's ID), for the audit trail.
	target string
}

func fail(status int, msg string) reply { return reply{status: status, msg: msg} }

// notAllowed answers 405; [Handler.write] adds the Allow header.
func notAllowed(*http.Request, principal) reply {
	return fail(http.StatusMethodNotAllowed, "Method not allowed")
}

// notFound is the answer about a tenant that does not exist, and the
// answer a tenant key gets about any other tenant, byte for byte: a
// tenant key must not tell which other tenants exist.
func notFound() reply { return fail(http.StatusNotFound, "Tenant not found") }

// op wraps an operation with the key check, the scope check, the answer,
// the log line and the audit event.
func (h *Handler) op(action string, sc scope, fn func(*http.Request, principal) reply) http.Handler {
	change := changes[action]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if change {
			// A change runs to its end once asked for, whether or not its
			// client waits for the answer: cut off midway, a delete
			// would leave the tenant's data (its admin keys among them)
			// for a new tenant of the same ID, and an update unannounced
			// to the other replicas. Each store call is bounded by the
			// store's own timeouts.
			r = r.WithContext(context.WithoutCancel(r.Context()))
		}
		addr := h.cfg.ClientAddr(r)
		p, rep, ok := h.authorize(r, addr)
		if ok {
			rep, ok = h.permit(r, p, sc)
		}
		if ok {
			rep = fn(r, p)
		} else if id := r.PathValue("id"); tenant.ValidID(id) {
			rep.tenant = id // a refused attempt names its target too
		}
		h.write(w, r, rep)
		h.logLine(r.Context(), action, addr, p, rep)
		h.record(r.Context(), action, addr, p, rep)
	})
}

// permit checks that p may use a route of scope sc: an operator may use
// every route; a tenant key only its own tenant's, and of those only the
// ones open to tenant keys.
func (h *Handler) permit(r *http.Request, p principal, sc scope) (reply, bool) {
	if p.operator() {
		return reply{}, true
	}
	if id := r.PathValue("id"); id != "" && id != p.tenant {
		if !tenant.ValidID(id) {
			// As for an operator: a malformed ID names no tenant.
			return fail(http.StatusBadRequest, "Invalid tenant identifier"), false
		}
		return notFound(), false
	}
	if sc == operators {
		return fail(http.StatusForbidden, "Forbidden: this route needs an operator key"), false
	}
	return reply{}, true
}

// authorize checks the key. It answers 503 when no key is configured or
// the store of tenant keys cannot be reached, 429 while addr is locked
// out, 401 for a missing or wrong key of any kind (counted against addr).
func (h *Handler) authorize(r *http.Request, addr string) (principal, reply, bool) {
	if h.closed {
		return principal{}, fail(http.StatusServiceUnavailable, "Admin API disabled: no admin API key is configured"), false
	}
	now := h.cfg.Now()
	if wait := h.failures.locked(addr, now); wait > 0 {
		rep := fail(http.StatusTooManyRequests, "Too many failed attempts")
		rep.retryAfter = wait
		return principal{}, rep, false
	}
	presented := ""
	if values := r.Header.Values(KeyHeader); len(values) == 1 {
		presented = values[0]
	}
	p, err := h.identify(r.Context(), presented)
	if err != nil {
		rep := fail(http.StatusServiceUnavailable, "Admin key store unavailable")
		rep.retryAfter = storeRetryAfter
		rep.cause = err
		return principal{}, rep, false
	}
	if !p.valid() {
		h.failures.fail(addr, now)
		return principal{}, fail(http.StatusUnauthorized, "Missing or invalid admin API key"), false
	}
	return p, reply{}, true
}

// operatorKey returns the 1-based position of the operator key whose hash
// is sum, or 0. Every configured key is compared, in constant time, so
// that the time taken tells nothing of which key (or whether any) matched.
// Keys are hashed first: ConstantTimeCompare returns at once for inputs
// of different lengths, which would tell an attacker a key's length; two
// SHA-256 sums always have the same length.
func (h *Handler) operatorKey(sum [sha256.Size]byte) int {
	found := 0
	for i, k := range h.operators {
		eq := subtle.ConstantTimeCompare(sum[:], k[:])
		found = subtle.ConstantTimeSelect(eq&subtle.ConstantTimeEq(int32(found), 0), i+1, found)
	}
	return found
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, rep reply) {
	hdr := w.Header()
	if rep.retryAfter > 0 {
		hdr.Set("Retry-After", strconv.Itoa(httpx.CeilSeconds(rep.retryAfter)))
	}
	if rep.location != "" {
		hdr.Set("Location", rep.location)
	}
	if rep.etag != "" {
		hdr.Set("ETag", rep.etag)
	}
	if rep.status == http.StatusMethodNotAllowed {
		hdr.Set("Allow", allowed(r))
	}
	if rep.status >= 400 {
		httpx.Error(w, rep.status, rep.msg)
		return
	}
	body, err := marshal(rep.body)
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "Internal error")
		return
	}
	httpx.WriteJSON(w, rep.status, body)
}

// allowed is the Allow header of a 405 on r's route. It reads the route's
// pattern, not the path: a tenant may be called "keys", "usage" or
// "audit".
func allowed(r *http.Request) string {
	switch {
	case r.URL.Path == "/admin/tenants":
		return "GET, HEAD, POST"
	case r.PathValue("keyId") != "":
		return "DELETE"
	case strings.HasSuffix(r.Pattern, "/keys"):
		return "GET, HEAD, POST"
	case strings.HasSuffix(r.Pattern, "/usage"), strings.HasSuffix(r.Pattern, "/audit"):
		return "GET, HEAD"
	}
	return "GET, HEAD, PATCH, DELETE"
}

// logLine writes the log line of one request. It records what was asked,
// with which key ID, by which address, about which tenant, and how it
// ended; never a key, never a body.
func (h *Handler) logLine(ctx context.Context, action, addr string, p principal, rep reply) {
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	switch {
	case rep.cause != nil && status >= 500:
		level = slog.LevelError
	case rep.cause != nil:
		// A change that was made but not announced to the other
		// replicas (store.ErrNotPublished).
		level = slog.LevelWarn
	case status == http.StatusUnauthorized, status == http.StatusTooManyRequests,
		status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	}
	outcome := "ok"
	if status >= 400 {
		outcome = cutOutcome(rep.msg)
	}
	attrs := []slog.Attr{
		slog.String("action", action),
		slog.String("tenant", rep.tenant),
		slog.String("remote", addr),
		slog.Int("status", status),
		slog.String("outcome", outcome),
	}
	if p.valid() {
		attrs = append(attrs, slog.String("actor", p.actor()))
	}
	if rep.cause != nil {
		attrs = append(attrs, slog.String("error", rep.cause.Error()))
	}
	h.log.LogAttrs(context.WithoutCancel(ctx), level, "admin api", attrs...)
}

// maxLoggedOutcome bounds the outcome of a log line, in bytes: the message
// of a 400 can quote a member name of the body, which may be as long as
// MaxBodyBytes, and the audit trail keeps no more of it than this either.
const maxLoggedOutcome = 256

// cutOutcome cuts an outcome to maxLoggedOutcome bytes at a character
// boundary, marked when cut. The answer itself keeps the whole message.
func cutOutcome(s string) string {
	if len(s) <= maxLoggedOutcome {
		return s
	}
	n := maxLoggedOutcome
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "...(cut)"
}

// remoteIP is the default ClientAddr: the IP of the connection's peer.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
