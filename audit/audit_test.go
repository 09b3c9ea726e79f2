package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

type fixture struct {
	trail *Trail
	st    *memstore.Store
	clock *testclock.Clock
	logs  *testlog.Buffer
}

func newFixture(t *testing.T, cfg Config, tenants ...string) *fixture {
	t.Helper()
	f := &fixture{
		st:    memstore.New(memstore.Config{}),
		clock: testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)),
		logs:  &testlog.Buffer{},
	}
	for _, id := range tenants {
		_, err := f.st.Tenants().Create(t.Context(), &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err)
	}
	if cfg.Store == nil {
		cfg.Store = f.st.Audit()
	}
	cfg.Now = f.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	trail, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(trail.Close)
	f.trail = trail
	return f
}

func (f *fixture) events(t *testing.T, id string) []store.AuditEvent {
	t.Helper()
	f.trail.Close() // wait for the background writes
	p, err := f.trail.Read(t.Context(), id, "", store.MaxAuditPage)
	require.NoError(t, err)
	return p.Events
}

func TestNewRequiresStore(t *testing.T) {
	_, err := New(Config{})
	require.ErrorIs(t, err, ErrConfig)
}

func TestAdminAndLoginEvents(t *testing.T) {
	f := newFixture(t, Config{}, "acme")
	ctx := t.Context()
	require.NoError(t, f.trail.Admin(ctx, "acme", AdminEvent{
		Action: "tenant.update", Actor: "operator-1", Addr: "192.0.2.1", Status: 200, Outcome: "ok",
		Fields: []string{"name", "oidc.issuer"},
	}))
	f.clock.Advance(time.Second)
	require.NoError(t, f.trail.Login(ctx, "acme", "client-1", "alice"))
	got := f.events(t, "acme")
	require.Len(t, got, 2)
	assert.Equal(t, store.AuditEvent{
		ID: got[0].ID, Time: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), Type: store.AuditAdmin,
		Action: "tenant.update", Actor: "operator-1", Addr: "192.0.2.1", Status: 200, Outcome: "ok",
		Fields: []string{"name", "oidc.issuer"},
	}, got[0])
	assert.Equal(t, store.AuditEvent{
		ID: got[1].ID, Time: time.Date(2026, 1, 5, 12, 0, 1, 0, time.UTC), Type: store.AuditLogin,
		ClientID: "client-1", Subject: "alice",
	}, got[1])
}

func TestCancelledRequestStillRecorded(t *testing.T) {
	f := newFixture(t, Config{}, "acme")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, f.trail.Login(ctx, "acme", "c", "s"), "the event of a request whose client hung up")
	assert.Len(t, f.events(t, "acme"), 1)
}

func TestRefusalsLimitedPerTenantAndReason(t *testing.T) {
	f := newFixture(t, Config{}, "acme", "globex")
	for range 50 {
		f.trail.AuthRefused("acme", "invalid_token")
	}
	f.trail.AuthRefused("acme", "missing_token")
	f.trail.AuthRefused("globex", "invalid_token")
	f.clock.Advance(RefusalInterval - time.Millisecond)
	f.trail.AuthRefused("acme", "invalid_token")
	f.clock.Advance(time.Millisecond)
	f.trail.AuthRefused("acme", "invalid_token")
	f.trail.AuthRefused("Bad ID", "invalid_token")

	var reasons []string
	for _, e := range f.events(t, "acme") {
		assert.Equal(t, store.AuditAuthRefused, e.Type)
		reasons = append(reasons, e.Reason)
	}
	assert.ElementsMatch(t, []string{"invalid_token", "missing_token", "invalid_token"}, reasons,
		"one event per second per tenant and reason")
	assert.Len(t, f.events(t, "globex"), 1, "another tenant has its own limit")
}

func TestRefusalTrackerBounded(t *testing.T) {
	f := newFixture(t, Config{MaxTracked: 2}, "a", "b", "c")
	f.trail.AuthRefused("a", "r")
	f.trail.AuthRefused("b", "r")
	f.trail.AuthRefused("c", "r") // a third pair within the second: unrecorded
	assert.Len(t, f.trail.lastRef, 2)
	f.clock.Advance(RefusalInterval)
	f.trail.AuthRefused("c", "r") // the old pairs are forgotten, c fits
	assert.Len(t, f.trail.lastRef, 1)
	assert.Len(t, f.events(t, "c"), 1)
	require.NoError(t, f.trail.Login(t.Context(), "a", "c", "s"))
	assert.Contains(t, f.logs.String(), "dropped=1", "the dropped refusal is counted in the log")
}

func TestUnknownTenantWritesNothing(t *testing.T) {
	f := newFixture(t, Config{})
	require.NoError(t, f.trail.Login(t.Context(), "ghost", "c", "s"))
	f.trail.AuthRefused("ghost", "invalid_token")
	assert.Empty(t, f.events(t, "ghost"))
	assert.Zero(t, f.st.Len())
}

func TestCapped(t *testing.T) {
	f := newFixture(t, Config{MaxLen: 5}, "acme")
	for i := range 20 {
		require.NoError(t, f.trail.Login(t.Context(), "acme", fmt.Sprint(i), "s"))
	}
	got := f.events(t, "acme")
	require.Len(t, got, 5, "memstore caps exactly")
	assert.Equal(t, "15", got[0].ClientID)
}

func TestPages(t *testing.T) {
	f := newFixture(t, Config{}, "acme")
	for i := range 5 {
		require.NoError(t, f.trail.Login(t.Context(), "acme", fmt.Sprint(i), "s"))
	}
	p, err := f.trail.Read(t.Context(), "acme", "", 2)
	require.NoError(t, err)
	require.Len(t, p.Events, 2)
	assert.Equal(t, p.Events[1].ID, p.Next, "a full page names the next")
	p, err = f.trail.Read(t.Context(), "acme", p.Next, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"2", "3"}, []string{p.Events[0].ClientID, p.Events[1].ClientID})
	p, err = f.trail.Read(t.Context(), "acme", p.Next, 2)
	require.NoError(t, err)
	assert.Len(t, p.Events, 1)
	assert.Empty(t, p.Next, "the last page")
	_, err = f.trail.Read(t.Context(), "acme", "nope", 2)
	require.ErrorIs(t, err, store.ErrAuditCursor)
}

type downAudit struct{ store.Audit }

func (downAudit) Append(context.Context, string, store.AuditEvent, int) (string, error) {
	return "", errors.New("redis: connection refused")
}

func TestWriteFailureLogged(t *testing.T) {
	f := newFixture(t, Config{Store: downAudit{}}, "acme")
	err := f.trail.Login(t.Context(), "acme", "c", "alice")
	require.Error(t, err)
	assert.Contains(t, f.logs.String(), "audit: event not written")
	assert.Contains(t, f.logs.String(), "tenant=acme")
}

func TestNilTrail(t *testing.T) {
	var tr *Trail
	assert.NotPanics(t, func() {
		require.NoError(t, tr.Admin(t.Context(), "acme", AdminEvent{}))
		require.NoError(t, tr.Login(t.Context(), "acme", "c", "s"))
		tr.AuthRefused("acme", "r")
		p, err := tr.Read(t.Context(), "acme", "", 0)
		require.NoError(t, err)
		assert.Empty(t, p.Events)
		tr.Close()
	})
}

func TestTextBounded(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	got := text(long)
	assert.LessOrEqual(t, len(got), maxText)
	assert.True(t, utf8.ValidString(got))
	assert.Equal(t, "a\uFFFDb", text("a\xffb"))
	assert.Equal(t, "plain", text("plain"))

	f := newFixture(t, Config{}, "acme")
	fields := make([]string, 100)
	for i := range fields {
		fields[i] = fmt.Sprint(i)
	}
	require.NoError(t, f.trail.Admin(t.Context(), "acme", AdminEvent{Fields: fields, Actor: long}))
	e := f.events(t, "acme")[0]
	assert.Len(t, e.Fields, maxFields)
	assert.LessOrEqual(t, len(e.Actor), maxText)
}

// TestRefusalTrackerKeepsCopies: the tracker keeps copies of the tenant
// and reason it is given, not the larger strings they may be parts of (a
// request's host or header), whether the pair is new or seen again.
func TestRefusalTrackerKeepsCopies(t *testing.T) {
	f := newFixture(t, Config{}, "acme")
	shares := func(a, b string) bool {
		pa, pb := uintptr(unsafe.Pointer(unsafe.StringData(a))), uintptr(unsafe.Pointer(unsafe.StringData(b)))
		return pa >= pb && pa < pb+uintptr(len(b))
	}
	for range 2 {
		host := strings.Repeat("x", 4096) + " acme invalid_token"
		id, reason := host[4097:4101], host[4102:]
		require.Equal(t, "acme", id)
		f.trail.AuthRefused(id, reason)
		f.trail.mu.Lock()
		for k := range f.trail.lastRef {
			assert.False(t, shares(k.tenant, host), "the tenant ID is a copy")
			assert.False(t, shares(k.reason, host), "the reason is a copy")
		}
		f.trail.mu.Unlock()
		f.clock.Advance(RefusalInterval)
	}
	assert.Len(t, f.events(t, "acme"), 2)
}
