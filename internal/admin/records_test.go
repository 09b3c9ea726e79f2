package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/usage"
)

func (w *world) trailOf(t *testing.T, id string) []store.AuditEvent {
	t.Helper()
	p, err := w.trail.Read(t.Context(), id, "", store.MaxAuditPage)
	require.NoError(t, err)
	return p.Events
}

// brief is what a test checks of an event.
type brief struct {
	Action, Actor string
	Status        int
	Outcome       string
	Fields        []string
	Target        string
}

func briefs(events []store.AuditEvent) []brief {
	out := []brief{}
	for _, e := range events {
		if e.Type == store.AuditAdmin {
			out = append(out, brief{e.Action, e.Actor, e.Status, e.Outcome, e.Fields, e.Target})
		}
	}
	return out
}

// TestAuditTrailOfAdminChanges: each change asked with a valid key
// appears once in its tenant's trail, with the key's ID, the address, the
// outcome and the names of the fields; reads, refused keys and a tenant
// key's requests about other tenants write nothing.
func TestAuditTrailOfAdminChanges(t *testing.T) {
	w := newWorld(t)
	// newWorld made the keys of acme and globex and revoked one of acme's.
	revokedID := w.trailOf(t, "acme")[2].Target
	remote := "203.0.113.9:4242"
	do := func(q req) int {
		q.remote = remote
		return w.do(t, q).Code
	}
	require.Equal(t, 200, do(req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"A2","oidc":{"audience":"aud-2"}}`, key: str(w.acmeKey)}))
	require.Equal(t, 403, do(req{method: "PATCH", path: "/admin/tenants/acme", body: `{"status":"suspended"}`, key: str(w.acmeKey)}))
	require.Equal(t, 412, do(req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"A3"}`, key: str(secondKey), header: http.Header{"If-Match": {`"stale"`}}}))
	require.Equal(t, 200, do(req{method: "PATCH", path: "/admin/tenants/acme", body: `{"limits":{"rateLimit":7}}`, key: str(secondKey)}))
	// None of these write to any trail.
	require.Equal(t, 200, do(req{method: "GET", path: "/admin/tenants/acme", key: str(w.acmeKey)}))
	require.Equal(t, 401, do(req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"x"}`, key: str("wrong")}))
	require.Equal(t, 401, do(req{method: "DELETE", path: "/admin/tenants/acme", key: str(w.revoked)}))
	require.Equal(t, 404, do(req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"x"}`, key: str(w.otherKey)}))
	require.Equal(t, 403, do(req{method: "POST", path: "/admin/tenants/acme/keys", key: str(w.acmeKey)}))
	require.Equal(t, 404, do(req{method: "PATCH", path: "/admin/tenants/nobody", body: `{"name":"x"}`}))

	got := briefs(w.trailOf(t, "acme"))
	acmeFields := []string{"domain", "id", "limits.maxClients", "limits.maxSessions", "limits.rateLimit", "name", "oidc.audience", "oidc.issuer"}
	assert.Equal(t, []brief{
		{"tenant.create", "operator-1", 201, "ok", acmeFields, ""},
		{"key.create", "operator-1", 201, "ok", nil, w.acmeID},
		{"key.create", "operator-1", 201, "ok", nil, revokedID},
		{"key.revoke", "operator-1", 200, "ok", nil, revokedID},
		{"tenant.update", w.acmeID, 200, "ok", []string{"name", "oidc.audience"}, ""},
		{"tenant.update", w.acmeID, 403, "Forbidden: a tenant key may change only name and oidc", []string{"status"}, ""},
		{"tenant.update", "operator-2", 412, "Precondition failed: the tenant has changed since it was read", []string{"name"}, ""},
		{"tenant.update", "operator-2", 200, "ok", []string{"limits.rateLimit"}, ""},
		{"key.create", w.acmeID, 403, "Forbidden: this route needs an operator key", nil, ""},
	}, got)
	for _, e := range w.trailOf(t, "acme")[4:] {
		assert.Equal(t, "203.0.113.9", e.Addr)
	}
	assert.Len(t, briefs(w.trailOf(t, "globex")), 2, "globex: its creation and its key, nothing of the requests about acme")
	assert.Empty(t, w.trailOf(t, "nobody"), "no trail for a tenant that does not exist")

	// A deletion takes the trail with the tenant; the log keeps the line.
	require.Equal(t, 200, do(req{method: "DELETE", path: "/admin/tenants/acme"}))
	assert.Empty(t, w.trailOf(t, "acme"))
	assert.Contains(t, w.logs.String(), `"action":"tenant.delete","tenant":"acme"`)
}

// TestNoSecretInTrailOrLog greps every event, every log line and every
// answer for the operator keys, the tenant keys and a client secret sent
// in clear (accepted, refused, and read back), and for its sealed form.
func TestNoSecretInTrailOrLog(t *testing.T) {
	ring := testRing(t, keyA)
	w := newWorld(t, withKeyring(ring))
	const clientSecret = "client-secret-value-7f3a9e2b"
	bodies := []req{
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"oidc":{"clientId":"seed","clientSecret":"` + clientSecret + `"}}`},
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"oidc":{"clientId":"seed","clientSecret":"` + clientSecret + `"}}`, key: str(w.acmeKey)},
		{method: "POST", path: "/admin/tenants", body: `{"id":"x1","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","clientSecret":"` + clientSecret + `"}}`},
		{method: "POST", path: "/admin/tenants", body: `{"id":"x2","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientSecret":"` + clientSecret + `"}}`},
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"status":"bogus","oidc":{"clientSecret":"` + clientSecret + `"}}`},
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"oidc":{"clientSecret":"` + clientSecret + `\u0001"}}`},
		{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"` + clientSecret + `x"}`, key: str(w.otherKey)},
		{method: "GET", path: "/admin/tenants/acme", key: str(testKey + "x")},
		{method: "GET", path: "/admin/tenants/acme", key: str(w.revoked)},
		{method: "GET", path: "/admin/tenants/acme", key: str(secondKey)},
		{method: "GET", path: "/admin/tenants/acme", key: str(w.acmeKey)},
		{method: "GET", path: "/admin/tenants/x1"},
		{method: "GET", path: "/admin/tenants"},
		{method: "GET", path: "/admin/tenants/acme/audit", key: str(w.acmeKey)},
	}
	var answers strings.Builder
	for _, q := range bodies {
		rep := w.do(t, q)
		answers.WriteString(rep.Body.String())
		for _, vs := range rep.Header() {
			answers.WriteString(strings.Join(vs, " "))
		}
	}
	require.Contains(t, answers.String(), `"clientSecretSet":true`, "the secrets were accepted")
	// The answer of a key creation holds the key, by design: it is not
	// collected.
	_, key := w.newKey(t, "acme")
	w.do(t, req{method: "DELETE", path: "/admin/tenants/acme/keys/" + strings.Split(key, ".")[2]})

	var events strings.Builder
	for _, id := range []string{"acme", "globex", "x1"} {
		for _, e := range w.trailOf(t, id) {
			events.WriteString(e.Action + e.Actor + e.Addr + e.Outcome + e.Target + e.ClientID + e.Subject + e.Reason + strings.Join(e.Fields, ","))
		}
	}
	require.Contains(t, events.String(), "oidc.clientSecret", "the field is named")
	sealed := []string{w.storedSecret(t, "acme"), w.storedSecret(t, "x1")}
	require.Equal(t, clientSecret, opens(t, ring, sealed[0], "acme"))
	for _, secret := range []string{testKey, secondKey, w.acmeKey, w.otherKey, w.revoked, key, clientSecret,
		strings.Split(w.acmeKey, ".")[3], strings.Split(key, ".")[3], sealed[0], sealed[1], keyring.Prefix} {
		assert.NotContains(t, events.String(), secret, "an audit event")
		assert.NotContains(t, w.logs.String(), secret, "a log line")
		assert.NotContains(t, answers.String(), secret, "an answer")
	}
}

func TestUsageRoute(t *testing.T) {
	w := newWorld(t)
	rec, err := usage.New(usage.Config{Store: w.st.Usage(), Now: w.clock.Now})
	require.NoError(t, err)
	rec.Served("acme")
	rec.Served("acme")
	rec.ToolCall("acme", "whoami")
	require.NoError(t, rec.Flush(t.Context()))

	rep := w.do(t, req{method: "GET", path: "/admin/tenants/acme/usage?from=2026-01-04&to=2026-01-05", key: str(w.acmeKey)})
	require.Equal(t, http.StatusOK, rep.Code, rep.Body.String())
	assert.JSONEq(t, `{"tenant":"acme","days":[
		{"date":"2026-01-04","served":0,"rateLimited":0,"authRefused":0,"sessionsOpened":0,"logins":0,"toolCalls":{}},
		{"date":"2026-01-05","served":2,"rateLimited":0,"authRefused":0,"sessionsOpened":0,"logins":0,"toolCalls":{"whoami":1}}],
		"total":{"served":2,"rateLimited":0,"authRefused":0,"sessionsOpened":0,"logins":0,"toolCalls":{"whoami":1}}}`, rep.Body.String())

	def := decode[usage.Report](t, w.do(t, req{method: "GET", path: "/admin/tenants/acme/usage"}))
	require.Len(t, def.Days, 30, "without from and to: the 30 days up to today")
	assert.Equal(t, "2026-01-05", def.Days[29].Date)
	assert.Equal(t, "2025-12-07", def.Days[0].Date)
	only := decode[usage.Report](t, w.do(t, req{method: "GET", path: "/admin/tenants/acme/usage?to=2026-01-05&from=2026-01-05"}))
	assert.Equal(t, int64(2), only.Total.Served)

	for _, q := range []string{
		"from=2026-01-06&to=2026-01-05", "from=2026-1-5&to=2026-01-05", "from=2024-01-01&to=2026-01-05",
		"from=2026-01-05&from=2026-01-04", "to=yesterday", "from=2026-02-30&to=2026-03-01", "to=2026-01-05%00",
	} {
		rep := w.do(t, req{method: "GET", path: "/admin/tenants/acme/usage?" + q})
		assert.Equal(t, http.StatusBadRequest, rep.Code, q)
	}
	assert.Equal(t, http.StatusNotFound, w.do(t, req{method: "GET", path: "/admin/tenants/nobody/usage"}).Code)
	assert.Equal(t, http.StatusOK, w.do(t, req{method: "GET", path: "/admin/tenants/acme/usage?from=2024-12-02&to=2026-01-05"}).Code,
		"400 days")
}

func TestAuditRoute(t *testing.T) {
	w := newWorld(t)
	for range 5 {
		require.NoError(t, w.trail.Login(t.Context(), "acme", "client", "alice"))
	}
	page := decode[audit.Page](t, w.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?limit=3", key: str(w.acmeKey)}))
	require.Len(t, page.Events, 3)
	assert.Equal(t, "acme", page.Tenant)
	assert.Equal(t, page.Events[2].ID, page.Next)
	var all []store.AuditEvent
	all = append(all, page.Events...)
	for page.Next != "" {
		page = decode[audit.Page](t, w.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?limit=3&after=" + page.Next}))
		all = append(all, page.Events...)
	}
	assert.Len(t, all, 4+5, "the admin events of newWorld, then the logins")
	assert.Equal(t, store.AuditLogin, all[8].Type)
	assert.Equal(t, "alice", all[8].Subject)

	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "after=x", "after=1-2-3", "limit=1&limit=2", "after=1-0&after=2-0"} {
		rep := w.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?" + q})
		assert.Equal(t, http.StatusBadRequest, rep.Code, q)
	}
	assert.Equal(t, http.StatusNotFound, w.do(t, req{method: "GET", path: "/admin/tenants/nobody/audit"}).Code)
	empty := w.do(t, req{method: "GET", path: "/admin/tenants/globex/audit?after=99999999999999-0"})
	assert.JSONEq(t, `{"tenant":"globex","events":[],"next":""}`, empty.Body.String())
}

// TestRoutesNeedTheirStores: without Keys, Usage or Audit the routes are
// unknown, and tenant-shaped keys are wrong keys.
func TestRoutesNeedTheirStores(t *testing.T) {
	f := newFixture(t)
	f.create(t, acme)
	for _, path := range []string{"/admin/tenants/acme/usage", "/admin/tenants/acme/audit", "/admin/tenants/acme/keys"} {
		rep := f.do(t, req{method: "GET", path: path})
		assert.Equal(t, http.StatusNotFound, rep.Code, path)
		assert.Contains(t, rep.Body.String(), "Not found")
	}
	rep := f.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str("tk.acme.0123456789abcdef01234567." + strings.Repeat("A", 43))})
	assert.Equal(t, http.StatusUnauthorized, rep.Code)
}
