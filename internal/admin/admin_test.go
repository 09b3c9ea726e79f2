package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

const testKey = "s3cret-admin-key-of-some-length-0123456789"

type fixture struct {
	h       *Handler
	tenants store.Tenants
	logs    *testlog.Buffer
	clock   *testclock.Clock
	events  []store.Event
}

type option func(*Config)

func newFixture(t *testing.T, opts ...option) *fixture {
	t.Helper()
	f := &fixture{
		tenants: memstore.New(memstore.Config{}).Tenants(),
		logs:    &testlog.Buffer{},
		clock:   testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)),
	}
	cfg := Config{
		APIKey:   testKey,
		Logger:   slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      f.clock.Now,
		OnChange: func(e store.Event) { f.events = append(f.events, e) },
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Tenants == nil {
		cfg.Tenants = f.tenants
	} else {
		f.tenants = cfg.Tenants
	}
	h, err := New(cfg)
	require.NoError(t, err)
	f.h = h
	return f
}

// req describes one request; an empty key means the test key.
type req struct {
	method, path, body, contentType string
	key                             *string
	remote                          string
	header                          http.Header
}

func str(s string) *string { return &s }

func (f *fixture) do(t *testing.T, q req) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(q.method, q.path, strings.NewReader(q.body))
	if q.body != "" && q.contentType == "" {
		q.contentType = "application/json"
	}
	if q.contentType != "-" && q.contentType != "" {
		r.Header.Set("Content-Type", q.contentType)
	}
	switch {
	case q.key == nil:
		r.Header.Set(KeyHeader, testKey)
	case *q.key != "":
		r.Header.Set(KeyHeader, *q.key)
	}
	for k, vs := range q.header {
		r.Header.Del(k)
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

const acme = `{"id":"acme","name":"ACME","domain":"acme.example.com",
 "oidc":{"issuer":"https://auth.acme.com","audience":"seed-acme"},
 "limits":{"maxClients":10,"maxSessions":20,"rateLimit":30}}`

func (f *fixture) create(t *testing.T, body string) {
	t.Helper()
	w := f.do(t, req{method: "POST", path: "/admin/tenants", body: body})
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

// assertJSONHeaders checks what every answer carries, whatever its status.
func assertJSONHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.True(t, json.Valid(w.Body.Bytes()), w.Body.String())
	if w.Code >= 400 {
		assert.NotEmpty(t, decode[map[string]string](t, w)["error"])
	}
}

func TestNewRequiresStore(t *testing.T) {
	_, err := New(Config{APIKey: "k"})
	assert.ErrorIs(t, err, ErrConfig)
}

// TestStatusCodes has one case per status code and per field rule.
func TestStatusCodes(t *testing.T) {
	big := `{"id":"big","name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name    string
		seed    []string
		req     req
		status  int
		message string // a part of the error message
	}{
		{"201 create", nil, req{method: "POST", path: "/admin/tenants", body: acme}, 201, ""},
		{"201 create with charset", nil, req{method: "POST", path: "/admin/tenants", body: acme, contentType: "application/json; charset=utf-8"}, 201, ""},
		{"200 get", []string{acme}, req{method: "GET", path: "/admin/tenants/acme"}, 200, ""},
		{"200 list", []string{acme}, req{method: "GET", path: "/admin/tenants"}, 200, ""},
		{"200 patch", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"New"}`, contentType: "application/merge-patch+json"}, 200, ""},
		{"200 delete", []string{acme}, req{method: "DELETE", path: "/admin/tenants/acme"}, 200, ""},

		{"400 bad JSON", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":`}, 400, "invalid JSON"},
		{"400 empty body", nil, req{method: "POST", path: "/admin/tenants", contentType: "application/json"}, 400, "empty body"},
		{"400 trailing data", nil, req{method: "POST", path: "/admin/tenants", body: acme + `{}`}, 400, "data after"},
		{"400 not an object", nil, req{method: "POST", path: "/admin/tenants", body: `[1]`}, 400, "JSON object"},
		{"400 unknown field", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","plan":"gold"}`}, 400, `unknown field "plan"`},
		{"400 unknown nested field", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","oidc":{"issuer":"https://a.example","audience":"a","secret":"s"}}`}, 400, `unknown field "oidc.secret"`},
		{"400 field in the wrong case", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","Name":"X"}`}, 400, `unknown field "Name"`},
		{"400 wrong type", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","limits":{"maxClients":"ten"}}`}, 400, "maxClients"},
		{"400 missing id", nil, req{method: "POST", path: "/admin/tenants", body: `{"name":"X"}`}, 400, "id"},
		{"400 malformed id", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"Acme","name":"X"}`}, 400, "id"},
		{"400 reserved id", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"admin","name":"X"}`}, 400, "reserved"},
		{"400 missing name", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x"}`}, 400, "name"},
		{"400 bad domain", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","domain":"Bad Domain"}`}, 400, "domain"},
		{"400 bad status", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","status":"deleted"}`}, 400, "status"},
		{"400 oidc without audience", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","oidc":{"issuer":"https://a.example"}}`}, 400, "oidc.audience"},
		{"400 oidc issuer not https", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","oidc":{"issuer":"http://a.example","audience":"a"}}`}, 400, "oidc.issuer"},
		{"400 negative limit", nil, req{method: "POST", path: "/admin/tenants", body: `{"id":"x","name":"X","limits":{"rateLimit":-1}}`}, 400, "limits.rateLimit"},
		{"400 malformed path id", nil, req{method: "GET", path: "/admin/tenants/ACME"}, 400, "Invalid tenant identifier"},
		{"400 reserved path id", nil, req{method: "DELETE", path: "/admin/tenants/admin"}, 400, "Invalid tenant identifier"},
		{"400 bad limit", nil, req{method: "GET", path: "/admin/tenants?limit=ten"}, 400, "limit"},
		{"400 zero limit", nil, req{method: "GET", path: "/admin/tenants?limit=0"}, 400, "limit"},
		{"400 bad cursor", nil, req{method: "GET", path: "/admin/tenants?cursor=%7B%7D"}, 400, "cursor"},
		{"400 patch changes id", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"id":"other"}`}, 400, "id is immutable"},
		{"400 patch removes id", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"id":null}`}, 400, "id is immutable"},
		{"400 patch changes createdAt", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"createdAt":"2020-01-01T00:00:00Z"}`}, 400, "createdAt is immutable"},
		{"400 patch removes createdAt", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"createdAt":null}`}, 400, "createdAt is immutable"},
		{"400 patch removes name", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":null}`}, 400, "name"},
		{"400 patch unknown field", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"plan":"gold"}`}, 400, `unknown field "plan"`},
		{"400 patch bad status", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"status":"gone"}`}, 400, "status"},
		{"400 patch not an object", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `"x"`}, 400, "JSON object"},

		{"401 missing key", nil, req{method: "GET", path: "/admin/tenants", key: str("")}, 401, "admin API key"},
		{"401 wrong key", nil, req{method: "GET", path: "/admin/tenants", key: str("nope")}, 401, "admin API key"},
		{"401 before routing", nil, req{method: "GET", path: "/admin/nothing-here", key: str("nope")}, 401, "admin API key"},
		{"401 two keys", nil, req{method: "GET", path: "/admin/tenants", header: http.Header{KeyHeader: {testKey, testKey}}}, 401, "admin API key"},

		{"404 get unknown", nil, req{method: "GET", path: "/admin/tenants/nobody"}, 404, "not found"},
		{"404 patch unknown", nil, req{method: "PATCH", path: "/admin/tenants/nobody", body: `{"name":"x"}`}, 404, "not found"},
		{"404 delete unknown", nil, req{method: "DELETE", path: "/admin/tenants/nobody"}, 404, "not found"},
		{"404 unknown route", nil, req{method: "GET", path: "/admin/other"}, 404, "Not found"},
		{"405 put", nil, req{method: "PUT", path: "/admin/tenants/acme", body: acme}, 405, "Method not allowed"},

		{"409 duplicate id", []string{acme}, req{method: "POST", path: "/admin/tenants", body: `{"id":"acme","name":"Other"}`}, 409, "already exists"},
		{"409 duplicate domain", []string{acme}, req{method: "POST", path: "/admin/tenants", body: `{"id":"other","name":"Other","domain":"acme.example.com"}`}, 409, "Domain"},
		{"409 patch to a taken domain", []string{acme, `{"id":"b","name":"B"}`}, req{method: "PATCH", path: "/admin/tenants/b", body: `{"domain":"acme.example.com"}`}, 409, "Domain"},

		{"413 create too large", nil, req{method: "POST", path: "/admin/tenants", body: big}, 413, "larger"},
		{"413 patch too large", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: big}, 413, "larger"},

		{"415 no content type", nil, req{method: "POST", path: "/admin/tenants", body: acme, contentType: "-"}, 415, "Content-Type"},
		{"415 text", nil, req{method: "POST", path: "/admin/tenants", body: acme, contentType: "text/plain"}, 415, "Content-Type"},
		{"415 merge patch on create", nil, req{method: "POST", path: "/admin/tenants", body: acme, contentType: "application/merge-patch+json"}, 415, "Content-Type"},
		{"415 patch as xml", []string{acme}, req{method: "PATCH", path: "/admin/tenants/acme", body: `{}`, contentType: "application/xml"}, 415, "Content-Type"},
		{"415 not utf-8", nil, req{method: "POST", path: "/admin/tenants", body: acme, contentType: "application/json; charset=latin1"}, 415, "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for _, s := range tc.seed {
				f.create(t, s)
			}
			w := f.do(t, tc.req)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			assertJSONHeaders(t, w)
			if tc.message != "" {
				assert.Contains(t, decode[map[string]string](t, w)["error"], tc.message)
			}
			if tc.status == 405 {
				assert.Equal(t, "GET, HEAD, PATCH, DELETE", w.Header().Get("Allow"))
			}
		})
	}
}

func TestClosedWithoutKey(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.APIKey = "" })
	for _, q := range []req{
		{method: "GET", path: "/admin/tenants"},
		{method: "GET", path: "/admin/tenants", key: str("")},
		{method: "POST", path: "/admin/tenants", body: acme, key: str("")},
		{method: "DELETE", path: "/admin/tenants/acme"},
		{method: "GET", path: "/admin/whatever"},
	} {
		w := f.do(t, q)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assertJSONHeaders(t, w)
	}
}

// failingTenants is a store whose backend is down.
type failingTenants struct{ store.Tenants }

var errDown = errors.New("dial tcp 10.1.2.3:6379: connect: connection refused")

func (failingTenants) Get(context.Context, string) (*tenant.Tenant, error) { return nil, errDown }
func (failingTenants) Create(context.Context, *tenant.Tenant) (*tenant.Tenant, error) {
	return nil, errDown
}
func (failingTenants) Delete(context.Context, string) (int64, error) { return 0, errDown }
func (failingTenants) List(context.Context, string, int) ([]*tenant.Tenant, string, error) {
	return nil, "", errDown
}

func TestStoreUnavailable(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Tenants = failingTenants{} })
	for _, q := range []req{
		{method: "POST", path: "/admin/tenants", body: acme},
		{method: "GET", path: "/admin/tenants"},
		{method: "GET", path: "/admin/tenants/acme"},
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"x"}`},
		{method: "DELETE", path: "/admin/tenants/acme"},
	} {
		w := f.do(t, q)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, q.method)
		assertJSONHeaders(t, w)
		assert.Equal(t, `{"error":"Tenant service unavailable"}`, w.Body.String(), "no internals leak")
		assert.Equal(t, "5", w.Header().Get("Retry-After"))
	}
	assert.Contains(t, f.logs.String(), "connection refused", "the cause is logged")
}

func TestCreate(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, req{method: "POST", path: "/admin/tenants",
		body: `{"id":"acme","name":"ACME","createdAt":"2001-01-01T00:00:00Z","updatedAt":"2001-01-01T00:00:00Z"}`})
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	got := decode[tenant.Tenant](t, w)
	assert.Equal(t, tenant.StatusActive, got.Status, "status defaults to active")
	assert.True(t, got.CreatedAt.After(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), "createdAt is the server's")
	assert.Equal(t, got.CreatedAt, got.UpdatedAt)
	assert.Equal(t, "/admin/tenants/acme", w.Header().Get("Location"))
	assert.Equal(t, []store.Event{{Type: store.EventCreated, TenantID: "acme"}}, f.events)

	w = f.do(t, req{method: "POST", path: "/admin/tenants", body: `{"id":"frozen","name":"F","status":"suspended"}`})
	require.Equal(t, http.StatusCreated, w.Code)
	assert.Equal(t, tenant.StatusSuspended, decode[tenant.Tenant](t, w).Status)
}

func TestPatch(t *testing.T) {
	f := newFixture(t)
	f.create(t, acme)
	before := decode[tenant.Tenant](t, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}))
	f.events = nil

	steps := []struct {
		name, patch, contentType string
		check                    func(t *testing.T, got tenant.Tenant)
	}{
		{"suspend", `{"status":"suspended"}`, "application/merge-patch+json", func(t *testing.T, got tenant.Tenant) {
			assert.Equal(t, tenant.StatusSuspended, got.Status)
			assert.Equal(t, "ACME", got.Name, "other members untouched")
		}},
		{"reactivate with application/json", `{"status":"active"}`, "application/json", func(t *testing.T, got tenant.Tenant) {
			assert.Equal(t, tenant.StatusActive, got.Status)
		}},
		{"null removes a member", `{"domain":null}`, "", func(t *testing.T, got tenant.Tenant) {
			assert.Empty(t, got.Domain)
		}},
		{"nested objects merge", `{"oidc":{"audience":"new-aud","jwksUri":"https://auth.acme.com/jwks"},"limits":{"rateLimit":5}}`, "", func(t *testing.T, got tenant.Tenant) {
			assert.Equal(t, tenant.OIDC{Issuer: "https://auth.acme.com", Audience: "new-aud", JWKSURI: "https://auth.acme.com/jwks"}, got.OIDC)
			assert.Equal(t, tenant.Limits{MaxClients: 10, MaxSessions: 20, RateLimit: 5}, got.Limits)
		}},
		{"null removes a nested member", `{"oidc":{"jwksUri":null}}`, "", func(t *testing.T, got tenant.Tenant) {
			assert.Empty(t, got.OIDC.JWKSURI)
		}},
		{"same id and createdAt are allowed, updatedAt is ignored", `{"id":"acme","createdAt":"` +
			before.CreatedAt.Format(time.RFC3339Nano) + `","updatedAt":"1999-01-01T00:00:00Z"}`, "", func(t *testing.T, got tenant.Tenant) {
			assert.True(t, got.CreatedAt.Equal(before.CreatedAt))
			assert.False(t, got.UpdatedAt.Before(before.UpdatedAt))
		}},
		{"empty patch changes nothing", `{}`, "", func(t *testing.T, got tenant.Tenant) {
			assert.Equal(t, "ACME", got.Name)
		}},
	}
	for _, s := range steps {
		ct := s.contentType
		if ct == "" {
			ct = "application/merge-patch+json"
		}
		w := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: s.patch, contentType: ct})
		require.Equal(t, http.StatusOK, w.Code, "%s: %s", s.name, w.Body.String())
		got := decode[tenant.Tenant](t, w)
		t.Run(s.name, func(t *testing.T) { s.check(t, got) })
		stored, err := f.tenants.Get(context.Background(), "acme")
		require.NoError(t, err)
		assert.Equal(t, got.Status, stored.Status, "the answer is what was stored")
	}
	assert.Len(t, f.events, len(steps))
	for _, e := range f.events {
		assert.Equal(t, store.Event{Type: store.EventUpdated, TenantID: "acme"}, e)
	}
}

func TestListPages(t *testing.T) {
	f := newFixture(t)
	ids := []string{"a", "b", "c", "d", "e"}
	for _, id := range ids {
		f.create(t, `{"id":"`+id+`","name":"`+id+`"}`)
	}
	var seen []string
	cursor := ""
	for range 10 {
		w := f.do(t, req{method: "GET", path: "/admin/tenants?limit=2&cursor=" + cursor})
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		page := decode[listPage](t, w)
		assert.LessOrEqual(t, len(page.Tenants), 2)
		for _, tn := range page.Tenants {
			seen = append(seen, tn.ID)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	assert.Equal(t, ids, seen)

	empty := newFixture(t)
	w := empty.do(t, req{method: "GET", path: "/admin/tenants"})
	assert.JSONEq(t, `{"tenants":[],"next":""}`, w.Body.String())
}

func TestDelete(t *testing.T) {
	st := memstore.New(memstore.Config{})
	f := newFixture(t, func(c *Config) { c.Tenants = st.Tenants() })
	f.create(t, acme)
	f.create(t, `{"id":"acme-corp","name":"Other"}`)
	ctx := context.Background()
	require.NoError(t, st.Clients().Register(ctx, "acme", &store.Client{ClientID: "c1", RedirectURIs: []string{"https://x.example/cb"}}, 0))
	_, err := st.Sessions().Create(ctx, "acme", "s1", "u1", 0)
	require.NoError(t, err)
	_, err = st.Sessions().Create(ctx, "acme-corp", "s1", "u1", 0)
	require.NoError(t, err)
	f.events = nil

	w := f.do(t, req{method: "DELETE", path: "/admin/tenants/acme"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	got := decode[deleted](t, w)
	assert.Equal(t, "acme", got.ID)
	// metadata, domain, client, clients set, session, sessions set, and
	// the index entry if the store counts it.
	assert.GreaterOrEqual(t, got.DeletedKeys, int64(6))
	assert.Equal(t, []store.Event{{Type: store.EventDeleted, TenantID: "acme"}}, f.events)

	assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Code)
	assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "DELETE", path: "/admin/tenants/acme"}).Code)
	assert.Equal(t, http.StatusOK, f.do(t, req{method: "GET", path: "/admin/tenants/acme-corp"}).Code)
	_, err = st.Sessions().Get(ctx, "acme-corp", "s1")
	assert.NoError(t, err, "acme-corp keeps its data")
}

// TestWrongKeysLookAlike checks that a wrong key of the right length and
// one of another length get the same answer, headers included.
func TestWrongKeysLookAlike(t *testing.T) {
	f := newFixture(t)
	sameLength := strings.Repeat("x", len(testKey))
	answers := map[string]*httptest.ResponseRecorder{}
	for name, key := range map[string]string{
		"same length":  sameLength,
		"shorter":      "x",
		"longer":       testKey + testKey,
		"key + suffix": testKey + "x",
		"key prefix":   testKey[:len(testKey)-1],
		"missing":      "",
	} {
		answers[name] = f.do(t, req{method: "GET", path: "/admin/tenants", key: str(key), remote: "192.0.2.1:1234"})
		f.clock.Advance(2 * time.Minute) // stay under the lockout
	}
	want := answers["same length"]
	assert.Equal(t, http.StatusUnauthorized, want.Code)
	for name, w := range answers {
		assert.Equal(t, want.Code, w.Code, name)
		assert.Equal(t, want.Body.String(), w.Body.String(), name)
		assert.Equal(t, want.Header(), w.Header(), name)
	}
}

func TestLockoutAfterFailures(t *testing.T) {
	f := newFixture(t)
	attacker := "198.51.100.7:5555"
	for i := range DefaultMaxFailures {
		w := f.do(t, req{method: "GET", path: "/admin/tenants", key: str("guess"), remote: attacker})
		require.Equal(t, http.StatusUnauthorized, w.Code, "attempt %d", i+1)
		f.clock.Advance(time.Second)
	}
	// From now on the address is locked out, even with the right key.
	w := f.do(t, req{method: "GET", path: "/admin/tenants", remote: attacker})
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assertJSONHeaders(t, w)
	assert.Equal(t, "50", w.Header().Get("Retry-After"), "until the minute that began with the first failure is over")
	// The same host on another port is the same address.
	w = f.do(t, req{method: "GET", path: "/admin/tenants", remote: "198.51.100.7:6666"})
	assert.Equal(t, http.StatusTooManyRequests, w.Code)

	// Another address is not affected.
	w = f.do(t, req{method: "GET", path: "/admin/tenants", remote: "203.0.113.9:1"})
	assert.Equal(t, http.StatusOK, w.Code)

	f.clock.Advance(49 * time.Second)
	assert.Equal(t, http.StatusTooManyRequests, f.do(t, req{method: "GET", path: "/admin/tenants", remote: attacker}).Code)
	f.clock.Advance(time.Second)
	assert.Equal(t, http.StatusOK, f.do(t, req{method: "GET", path: "/admin/tenants", remote: attacker}).Code, "the minute is over")
}

func TestLockoutIgnoresForwardedFor(t *testing.T) {
	f := newFixture(t)
	for i := range DefaultMaxFailures {
		f.do(t, req{method: "GET", path: "/admin/tenants", key: str("guess"), remote: "198.51.100.7:5555",
			header: http.Header{"X-Forwarded-For": {"10.0.0." + string(rune('0'+i))}}})
	}
	w := f.do(t, req{method: "GET", path: "/admin/tenants", remote: "198.51.100.7:5555",
		header: http.Header{"X-Forwarded-For": {"10.9.9.9"}}})
	assert.Equal(t, http.StatusTooManyRequests, w.Code, "a forged header does not reset the count")

	trusting := newFixture(t, func(c *Config) {
		c.ClientAddr = func(r *http.Request) string { return r.Header.Get("X-Forwarded-For") }
	})
	for range DefaultMaxFailures {
		trusting.do(t, req{method: "GET", path: "/admin/tenants", key: str("guess"), header: http.Header{"X-Forwarded-For": {"10.0.0.1"}}})
	}
	assert.Equal(t, http.StatusTooManyRequests, trusting.do(t, req{method: "GET", path: "/admin/tenants", header: http.Header{"X-Forwarded-For": {"10.0.0.1"}}}).Code)
	assert.Equal(t, http.StatusOK, trusting.do(t, req{method: "GET", path: "/admin/tenants", header: http.Header{"X-Forwarded-For": {"10.0.0.2"}}}).Code)
}

func TestFailureTrackerIsBounded(t *testing.T) {
	fl := newFailures(3, time.Minute, 100)
	now := time.Unix(0, 0)
	for i := range 1000 {
		fl.fail("addr-"+string(rune(i)), now)
		now = now.Add(time.Millisecond)
	}
	assert.LessOrEqual(t, fl.windows.Len(), 100)

	// Expired windows are swept before a live one is dropped.
	fl = newFailures(3, time.Minute, 2)
	t0 := time.Unix(0, 0)
	for range 3 {
		fl.fail("old", t0)
	}
	fl.fail("live", t0.Add(30*time.Second))
	for range 3 {
		fl.fail("live", t0.Add(30*time.Second))
	}
	fl.fail("new", t0.Add(61*time.Second))
	assert.Positive(t, fl.locked("live", t0.Add(61*time.Second)), "the live lockout survives")
}

// TestLogsNeverContainKeys runs every kind of request, including wrong keys
// of every length, and checks the log output.
func TestLogsNeverContainKeys(t *testing.T) {
	f := newFixture(t)
	wrong := []string{"wrong-key", strings.Repeat("y", len(testKey)), testKey[:10], "zz" + testKey}
	f.create(t, acme)
	for _, q := range []req{
		{method: "GET", path: "/admin/tenants"},
		{method: "GET", path: "/admin/tenants/acme"},
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"N"}`},
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"id":"x"}`},
		{method: "POST", path: "/admin/tenants", body: `{"id":"b","name":"B"}`},
		{method: "POST", path: "/admin/tenants", body: `bad`},
		{method: "GET", path: "/admin/nothing"},
		{method: "DELETE", path: "/admin/tenants/b"},
		{method: "DELETE", path: "/admin/tenants/acme"},
	} {
		f.do(t, q)
		for _, k := range wrong {
			q.key = str(k)
			f.do(t, q)
		}
		f.clock.Advance(2 * time.Minute) // no lockout yet
	}
	for range 12 { // into the lockout
		f.do(t, req{method: "GET", path: "/admin/tenants", key: str(wrong[0])})
	}
	logs := f.logs.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	assert.Greater(t, len(lines), 50)
	assert.NotContains(t, logs, testKey)
	for _, k := range wrong {
		assert.NotContains(t, logs, k)
	}
	for _, line := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		for _, attr := range []string{"action", "tenant", "remote", "status", "outcome"} {
			assert.Contains(t, rec, attr, line)
		}
	}
	assert.Contains(t, logs, `"action":"tenant.delete","tenant":"acme","remote":"192.0.2.1","status":200`)
	assert.Contains(t, logs, `"status":401`)
	assert.Contains(t, logs, `"status":429`)
}

func TestMergePatch(t *testing.T) {
	// The examples of RFC 7396 appendix A.
	for _, tc := range []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		var target, patch any
		require.NoError(t, json.Unmarshal([]byte(tc.target), &target))
		require.NoError(t, json.Unmarshal([]byte(tc.patch), &patch))
		got, err := json.Marshal(mergePatch(target, patch))
		require.NoError(t, err)
		assert.JSONEq(t, tc.want, string(got), "%s + %s", tc.target, tc.patch)
	}
}

// unannounced is a store whose writes succeed but whose events are lost.
type unannounced struct{ store.Tenants }

var errNoPublish = fmt.Errorf("test: %w: publish: connection reset", store.ErrNotPublished)

func (u unannounced) Create(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error) {
	got, err := u.Tenants.Create(ctx, t)
	if err != nil {
		return got, err
	}
	return got, errNoPublish
}

func (u unannounced) Update(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error) {
	got, err := u.Tenants.Update(ctx, t)
	if err != nil {
		return got, err
	}
	return got, errNoPublish
}

func (u unannounced) Delete(ctx context.Context, id string) (int64, error) {
	n, err := u.Tenants.Delete(ctx, id)
	if err != nil {
		return n, err
	}
	return n, errNoPublish
}

// TestChangeMadeButNotPublished: a change the store made without
// announcing it is answered as made (the client must not retry a create
// into a 409), applied on this replica through OnChange, and logged as a
// warning.
func TestChangeMadeButNotPublished(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Tenants = unannounced{memstore.New(memstore.Config{}).Tenants()} })
	assert.Equal(t, http.StatusCreated, f.do(t, req{method: "POST", path: "/admin/tenants", body: acme}).Code)
	assert.Equal(t, http.StatusOK, f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"status":"suspended"}`}).Code)
	w := f.do(t, req{method: "DELETE", path: "/admin/tenants/acme"})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `"deletedKeys":`)
	require.Len(t, f.events, 3)
	assert.Equal(t, 3, strings.Count(f.logs.String(), `"level":"WARN"`))
	assert.Contains(t, f.logs.String(), "not published")
}

// racingTenants changes the tenant elsewhere right before each of its
// first races Swaps, as a concurrent PATCH on another replica would.
type racingTenants struct {
	*memstore.Tenants
	races, swaps int
}

func (r *racingTenants) Swap(ctx context.Context, read, t *tenant.Tenant) (*tenant.Tenant, error) {
	r.swaps++
	if r.swaps <= r.races {
		other := *read
		other.Name = fmt.Sprintf("Changed elsewhere %d", r.swaps)
		time.Sleep(time.Millisecond) // a later UpdatedAt, on any clock
		if _, err := r.Tenants.Update(ctx, &other); err != nil {
			return nil, err
		}
	}
	return r.Tenants.Swap(ctx, read, t)
}

// TestPatchKeepsConcurrentChanges: a PATCH that meets a change made
// between its read and its write applies itself again to the changed
// tenant, so neither change is lost; one that keeps meeting changes gets
// 409 and changes nothing.
func TestPatchKeepsConcurrentChanges(t *testing.T) {
	racing := &racingTenants{Tenants: memstore.New(memstore.Config{}).Tenants(), races: 1}
	f := newFixture(t, func(c *Config) { c.Tenants = racing })
	require.Equal(t, http.StatusCreated, f.do(t, req{method: "POST", path: "/admin/tenants", body: acme}).Code)

	w := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"limits":{"rateLimit":7}}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	got, err := racing.Get(t.Context(), "acme")
	require.NoError(t, err)
	assert.Equal(t, "Changed elsewhere 1", got.Name, "the concurrent change is kept")
	assert.Equal(t, 7, got.Limits.RateLimit, "and so is the patch")
	assert.Equal(t, 2, racing.swaps)

	racing.races, racing.swaps = 100, 0
	w = f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"limits":{"rateLimit":9}}`})
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.JSONEq(t, `{"error":"Tenant was changed concurrently; read it again and retry"}`, w.Body.String())
	assert.Equal(t, patchAttempts, racing.swaps)
	got, err = racing.Get(t.Context(), "acme")
	require.NoError(t, err)
	assert.Equal(t, 7, got.Limits.RateLimit, "the refused patch changed nothing")
}

// TestLogOutcomeBounded: a 400 that quotes a member name of the body
// answers the whole message, but its log line keeps a bounded outcome, so
// a body of one long name cannot write a log line of its size.
func TestLogOutcomeBounded(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("x", 10_000)
	for _, q := range []req{
		{method: "POST", path: "/admin/tenants", body: `{"id":"acme","` + long + `":1}`},
		{method: "POST", path: "/admin/tenants", body: `{"` + long + `":1,"` + long + `":2}`},
	} {
		w := f.do(t, q)
		require.Equal(t, http.StatusBadRequest, w.Code)
		assert.Contains(t, w.Body.String(), long, "the answer keeps the whole message")
	}
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		assert.Less(t, len(line), 1024, "a log line of %d bytes", len(line))
		assert.Contains(t, line, `...(cut)`)
	}
}
