// Package audit keeps each tenant's audit trail: a capped stream of what
// happened to the tenant (admin changes, logins through its authorization
// server, refused authentication), which an operator or the tenant's own
// admin reads through the admin API.
//
//	trail, err := audit.New(audit.Config{Store: redisStore.Audit()})
//	if err != nil { … }
//	defer trail.Close()
//	trail.Login(ctx, tenantID, clientID, subject)
//
// An event holds names, identifiers and outcomes, never a secret: the
// methods take no key, token, code or field value, only the names of the
// fields a change set. Events are written only for tenants that exist and
// go with the tenant's cascade delete.
package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/seedmcp/tenancy/internal/conf"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// Defaults of [Config].
const (
	DefaultMaxTracked = 10000
	DefaultTimeout    = 2 * time.Second
	// RefusalInterval is the least time between two refused
	// authentication events of one tenant and reason: a flood of bad
	// tokens must not flush a tenant's trail.
	RefusalInterval = time.Second
	// maxText bounds each free-text field of an event (a subject, a
	// client ID, a reason) in bytes.
	maxText = 256
	// maxFields bounds the field names of one event.
	maxFields = 32
	// maxWriters bounds the refused-authentication events being written
	// at once; more are dropped, and counted in the log.
	maxWriters = 64
)

// ErrConfig is wrapped by the error [New] returns for a bad configuration.
var ErrConfig = errors.New("audit: invalid configuration")

// Config configures [New]. Only Store is required.
type Config struct {
	// Store keeps the trails. Required.
	Store store.Audit
	// MaxLen is the length each tenant's trail is capped near (a Redis
	// stream keeps up to 100 more, see store.Audit).
	// default: store.DefaultAuditLength (10,000)
	MaxLen int
	// MaxTracked bounds the tenant and reason pairs remembered for the
	// limit on refused authentication events; when that many pairs were
	// seen within one RefusalInterval, further refusals go unrecorded
	// (the log counts them).
	// default: DefaultMaxTracked (10,000)
	MaxTracked int
	// Timeout bounds each write.
	// default: DefaultTimeout (2 seconds)
	Timeout time.Duration
	// Logger receives failed writes. It never sees more of an event than
	// the trail does.
	// default: slog.Default()
	Logger *slog.Logger
	// Now is the clock of the events' times and of the refusal limit.
	// default: time.Now
	Now func() time.Time
}

// Trail writes and reads the tenants' audit trails. Create one with
// [New]; it is safe for concurrent use. A nil *Trail records nothing.
type Trail struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	lastRef map[refusalKey]time.Time
	closed  bool // set by Close: no write starts after it

	writers chan struct{}
	wg      sync.WaitGroup
	dropped atomic.Int64
}

// refusalKey is a tenant and a refusal reason.
type refusalKey struct{ tenant, reason string }

// New returns a Trail writing to cfg.Store.
func New(cfg Config) (*Trail, error) {
	if cfg.Store == nil {
		return nil, errors.Join(ErrConfig, errors.New("audit: Store is required"))
	}
	conf.Default(&cfg.MaxLen, store.DefaultAuditLength)
	conf.Default(&cfg.MaxTracked, DefaultMaxTracked)
	conf.Default(&cfg.Timeout, DefaultTimeout)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	conf.Clock(&cfg.Now)
	return &Trail{
		cfg:     cfg,
		log:     cfg.Logger,
		lastRef: map[refusalKey]time.Time{},
		writers: make(chan struct{}, maxWriters),
	}, nil
}

// AdminEvent describes one request to the admin API about a tenant.
type AdminEvent struct {
	// Action is what was asked ("tenant.update").
	Action string
	// Actor is the ID of the admin key that asked; never the key.
	Actor string
	// Addr is the client address.
	Addr string
	// Status is the HTTP status of the answer.
	Status int
	// Outcome is "ok" or the reason of the refusal.
	Outcome string
	// Fields are the names of the fields set, or asked to be set; never
	// their values.
	Fields []string
	// Target is what the request was about within the tenant (the ID of
	// an admin key).
	Target string
}

// Admin records a request to the admin API about the tenant. It returns
// once the event is written, or with the error that kept it from being
// written (also logged).
func (t *Trail) Admin(ctx context.Context, tenantID string, e AdminEvent) error {
	if t == nil {
		return nil
	}
	fields := e.Fields
	if len(fields) > maxFields {
		fields = fields[:maxFields]
	}
	clean := make([]string, len(fields))
	for i, f := range fields {
		clean[i] = text(f)
	}
	return t.write(ctx, tenantID, store.AuditEvent{
		Type: store.AuditAdmin, Action: text(e.Action), Actor: text(e.Actor), Addr: text(e.Addr),
		Status: e.Status, Outcome: text(e.Outcome), Fields: clean, Target: text(e.Target),
	})
}

// Login records a login through the tenant's authorization server: the
// client it went through and the subject who logged in. It returns once
// the event is written, or with the error (also logged).
func (t *Trail) Login(ctx context.Context, tenantID, clientID, subject string) error {
	if t == nil {
		return nil
	}
	return t.write(ctx, tenantID, store.AuditEvent{Type: store.AuditLogin, ClientID: text(clientID), Subject: text(subject)})
}

// AuthRefused records a request of the tenant refused for its
// authentication, at most once per RefusalInterval for each tenant and
// reason. It does not wait for the write, so a refused request is not
// delayed by it; [Trail.Close] waits for the writes under way.
func (t *Trail) AuthRefused(tenantID, reason string) {
	if t == nil || !tenant.ValidID(tenantID) {
		return
	}
	reason = text(reason)
	now := t.cfg.Now()
	if !t.allowRefusal(refusalKey{tenantID, reason}, now) {
		return
	}
	select {
	case t.writers <- struct{}{}:
	default:
		t.dropped.Add(1)
		return
	}
	// The write is counted for Close under the lock Close takes, so that
	// none starts while Close waits (which would also misuse the
	// WaitGroup: a panic in Close or here).
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		<-t.writers
		t.dropped.Add(1)
		return
	}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		defer func() { <-t.writers }()
		_ = t.write(context.Background(), tenantID, store.AuditEvent{Type: store.AuditAuthRefused, Reason: reason, Time: now})
	}()
}

// allowRefusal reports whether a refusal of k may be recorded at now, and
// if so remembers it.
func (t *Trail) allowRefusal(k refusalKey, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.lastRef[k]; ok && now.Sub(last) < RefusalInterval && !now.Before(last) {
		return false
	}
	if _, ok := t.lastRef[k]; !ok && len(t.lastRef) >= t.cfg.MaxTracked {
		for key, last := range t.lastRef {
			if now.Sub(last) >= RefusalInterval || now.Before(last) {
				delete(t.lastRef, key)
			}
		}
		if len(t.lastRef) >= t.cfg.MaxTracked {
			t.dropped.Add(1)
			return false
		}
	}
	// The map keeps its own copies: a caller's strings may be parts of
	// larger ones (a request's), and an assignment replaces the key of an
	// existing entry too. At most one copy per pair and RefusalInterval.
	k = refusalKey{strings.Clone(k.tenant), strings.Clone(k.reason)}
	t.lastRef[k] = now
	return true
}

// write appends e to the tenant's trail, on a context detached from the
// caller's with its own timeout, so that a client hanging up does not
// lose the event of what it did.
func (t *Trail) write(ctx context.Context, tenantID string, e store.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = t.cfg.Now()
	}
	e.Time = e.Time.UTC()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.Timeout)
	defer cancel()
	_, err := t.cfg.Store.Append(ctx, tenantID, e, t.cfg.MaxLen)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The tenant is gone (deleted meanwhile): its trail with it.
			return nil
		}
		attrs := []slog.Attr{slog.String("tenant", tenantID), slog.String("type", e.Type), slog.String("error", err.Error())}
		if n := t.dropped.Swap(0); n > 0 {
			attrs = append(attrs, slog.Int64("dropped", n))
		}
		t.log.LogAttrs(ctx, slog.LevelWarn, "audit: event not written", attrs...)
		return fmt.Errorf("audit: %w", err)
	}
	if n := t.dropped.Swap(0); n > 0 {
		t.log.LogAttrs(ctx, slog.LevelWarn, "audit: refused authentication events dropped: too many at once", slog.Int64("dropped", n))
	}
	return nil
}

// Page is one page of a trail, the answer of the admin API's audit route:
// the events after the cursor, oldest first, and the cursor of the next
// page ("" when this one is not full: nothing more for now; a client that
// follows the trail asks again after the last event's ID).
type Page struct {
	Tenant string             `json:"tenant"`
	Events []store.AuditEvent `json:"events"`
	Next   string             `json:"next"`
}

// Read returns up to limit events of the tenant's trail after the event
// whose ID is after ("" for the oldest kept). A bad cursor is an error
// wrapping store.ErrAuditCursor. A cursor written with leading zeros
// ("007-0") names the same event as without them.
func (t *Trail) Read(ctx context.Context, tenantID, after string, limit int) (*Page, error) {
	if t == nil {
		return &Page{Tenant: tenantID, Events: []store.AuditEvent{}}, nil
	}
	limit = store.AuditPage(limit)
	events, err := t.cfg.Store.Read(ctx, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: read %q: %w", tenantID, err)
	}
	p := &Page{Tenant: tenantID, Events: events}
	if len(events) == limit {
		p.Next = events[len(events)-1].ID
	}
	return p, nil
}

// Close waits for the refused authentication events being written. A
// refusal given to [Trail.AuthRefused] once Close has begun is not
// recorded (it counts as dropped); requests still served while a server
// shuts down may give one.
func (t *Trail) Close() {
	if t != nil {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.wg.Wait()
	}
}

// text bounds a free-text value of an event: valid UTF-8 of at most
// maxText bytes, cut at a character boundary. Values come from requests
// and identity providers.
func text(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > maxText {
		i := maxText
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}
