package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/internal/testclock"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

const secondKey = "the-second-operator-key-for-rotation-0123456789"

// world is a handler with every store, two tenants, a key of each and a
// revoked key of acme.
type world struct {
	*fixture
	st       *memstore.Store
	trail    *audit.Trail
	acmeKey  string
	acmeID   string
	otherKey string
	revoked  string
}

func withStores(st *memstore.Store, trail *audit.Trail) option {
	return func(c *Config) {
		c.Tenants = st.Tenants()
		c.Keys = st.AdminKeys()
		c.Usage = st.Usage()
		c.Audit = trail
		c.APIKeys = []string{secondKey}
	}
}

func newWorld(t *testing.T, opts ...option) *world {
	t.Helper()
	clock := newClock()
	st := memstore.New(memstore.Config{Clock: clock.Now})
	trail, err := audit.New(audit.Config{Store: st.Audit(), Now: clock.Now})
	require.NoError(t, err)
	f := newFixture(t, append([]option{withStores(st, trail), func(c *Config) { c.Now = clock.Now }}, opts...)...)
	f.clock = clock
	w := &world{fixture: f, st: st, trail: trail}
	f.create(t, acme)
	f.create(t, `{"id":"globex","name":"Globex"}`)
	w.acmeID, w.acmeKey = w.newKey(t, "acme")
	_, w.otherKey = w.newKey(t, "globex")
	var revokedID string
	revokedID, w.revoked = w.newKey(t, "acme")
	rep := f.do(t, req{method: "DELETE", path: "/admin/tenants/acme/keys/" + revokedID})
	require.Equal(t, http.StatusOK, rep.Code, rep.Body.String())
	return w
}

// newKey creates a tenant key through the API.
func (w *world) newKey(t *testing.T, id string) (string, string) {
	t.Helper()
	rep := w.do(t, req{method: "POST", path: "/admin/tenants/" + id + "/keys"})
	require.Equal(t, http.StatusCreated, rep.Code, rep.Body.String())
	k := decode[createdKey](t, rep)
	require.True(t, strings.HasPrefix(k.Key, "tk."+id+"."+k.ID+"."), k.Key)
	assert.Equal(t, "/admin/tenants/"+id+"/keys/"+k.ID, rep.Header().Get("Location"))
	return k.ID, k.Key
}

// TestKeyMatrix runs every route with every kind of key. Each cell starts
// from a fresh world, so that a delete in one cell changes no other.
func TestKeyMatrix(t *testing.T) {
	type keys struct{ op, op2, own, other, revoked, none, wrong int }
	const (
		created = http.StatusCreated
		ok      = http.StatusOK
		forbid  = http.StatusForbidden
		missing = http.StatusNotFound
		denied  = http.StatusUnauthorized
	)
	routes := []struct {
		name string
		req  func(w *world) req
		want keys
	}{
		{"create tenant", func(*world) req {
			return req{method: "POST", path: "/admin/tenants", body: `{"id":"initech","name":"Initech"}`}
		}, keys{created, created, forbid, forbid, denied, denied, denied}},
		{"list tenants", func(*world) req { return req{method: "GET", path: "/admin/tenants"} },
			keys{ok, ok, forbid, forbid, denied, denied, denied}},
		{"get tenant", func(*world) req { return req{method: "GET", path: "/admin/tenants/acme"} },
			keys{ok, ok, ok, missing, denied, denied, denied}},
		{"patch tenant", func(*world) req {
			return req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"ACME 2"}`}
		}, keys{ok, ok, ok, missing, denied, denied, denied}},
		{"delete tenant", func(*world) req { return req{method: "DELETE", path: "/admin/tenants/acme"} },
			keys{ok, ok, forbid, missing, denied, denied, denied}},
		{"usage", func(*world) req { return req{method: "GET", path: "/admin/tenants/acme/usage"} },
			keys{ok, ok, ok, missing, denied, denied, denied}},
		{"audit", func(*world) req { return req{method: "GET", path: "/admin/tenants/acme/audit"} },
			keys{ok, ok, ok, missing, denied, denied, denied}},
		{"create key", func(*world) req { return req{method: "POST", path: "/admin/tenants/acme/keys"} },
			keys{created, created, forbid, missing, denied, denied, denied}},
		{"list keys", func(*world) req { return req{method: "GET", path: "/admin/tenants/acme/keys"} },
			keys{ok, ok, forbid, missing, denied, denied, denied}},
		{"revoke key", func(w *world) req { return req{method: "DELETE", path: "/admin/tenants/acme/keys/" + w.acmeID} },
			keys{ok, ok, forbid, missing, denied, denied, denied}},
		{"unknown route", func(*world) req { return req{method: "GET", path: "/admin/nothing"} },
			keys{missing, missing, missing, missing, denied, denied, denied}},
		{"wrong method", func(*world) req { return req{method: "PUT", path: "/admin/tenants/acme/usage"} },
			keys{405, 405, 405, missing, denied, denied, denied}},
	}
	kinds := []struct {
		name string
		key  func(w *world) *string
		want func(k keys) int
	}{
		{"operator key", func(*world) *string { return nil }, func(k keys) int { return k.op }},
		{"second operator key", func(*world) *string { return str(secondKey) }, func(k keys) int { return k.op2 }},
		{"tenant key of this tenant", func(w *world) *string { return str(w.acmeKey) }, func(k keys) int { return k.own }},
		{"tenant key of another tenant", func(w *world) *string { return str(w.otherKey) }, func(k keys) int { return k.other }},
		{"revoked key", func(w *world) *string { return str(w.revoked) }, func(k keys) int { return k.revoked }},
		{"no key", func(*world) *string { return str("") }, func(k keys) int { return k.none }},
		{"wrong key", func(w *world) *string { return str(w.acmeKey[:len(w.acmeKey)-1] + "x") }, func(k keys) int { return k.wrong }},
	}
	for _, route := range routes {
		for _, kind := range kinds {
			t.Run(route.name+"/"+kind.name, func(t *testing.T) {
				w := newWorld(t)
				q := route.req(w)
				q.key = kind.key(w)
				rep := w.do(t, q)
				want := kind.want(route.want)
				assert.Equal(t, want, rep.Code, rep.Body.String())
				assertJSONHeaders(t, rep)
				switch want {
				case forbid:
					assert.Contains(t, decode[map[string]string](t, rep)["error"], "Forbidden")
				case missing:
					if q.path != "/admin/nothing" {
						unknown := w.do(t, req{method: "GET", path: "/admin/tenants/nobody"})
						assert.Equal(t, unknown.Body.String(), rep.Body.String(), "exactly the unknown-tenant answer")
						assert.Equal(t, unknown.Header(), rep.Header())
					}
				}
			})
		}
	}
}

// TestTenantKeyLearnsNothingOfOthers: a tenant key's answers about a
// tenant that exists and one that does not are the same, for every route.
func TestTenantKeyLearnsNothingOfOthers(t *testing.T) {
	w := newWorld(t)
	for _, q := range []req{
		{method: "GET", path: "/admin/tenants/%s"},
		{method: "PATCH", path: "/admin/tenants/%s", body: `{"name":"x"}`},
		{method: "DELETE", path: "/admin/tenants/%s"},
		{method: "GET", path: "/admin/tenants/%s/usage"},
		{method: "GET", path: "/admin/tenants/%s/audit"},
		{method: "POST", path: "/admin/tenants/%s/keys"},
		{method: "GET", path: "/admin/tenants/%s/keys"},
		{method: "DELETE", path: "/admin/tenants/%s/keys/0123456789abcdef01234567"},
	} {
		var answers []string
		for _, id := range []string{"globex", "nobody"} {
			q := q
			q.path = fmt.Sprintf(q.path, id)
			q.key = str(w.acmeKey)
			rep := w.do(t, q)
			assert.Equal(t, http.StatusNotFound, rep.Code, q.method+" "+q.path)
			answers = append(answers, fmt.Sprint(rep.Code, rep.Header(), rep.Body.String()))
		}
		assert.Equal(t, answers[0], answers[1], q.method+" "+q.path)
	}
	rep := w.do(t, req{method: "GET", path: "/admin/tenants/globex"})
	assert.Equal(t, "Globex", decode[tenant.Tenant](t, rep).Name, "globex is untouched")
}

func TestTenantKeyPatchesNameAndOIDCOnly(t *testing.T) {
	w := newWorld(t)
	patch := func(body string) int {
		return w.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: body, key: str(w.acmeKey)}).Code
	}
	assert.Equal(t, http.StatusOK, patch(`{"name":"ACME Two"}`))
	assert.Equal(t, http.StatusOK, patch(`{"oidc":{"audience":"seed-acme-2"}}`))
	for _, body := range []string{
		`{"status":"suspended"}`, `{"limits":{"rateLimit":0}}`, `{"domain":"evil.example.com"}`,
		`{"name":"X","status":"active"}`, `{"id":"acme"}`, `{"createdAt":null}`, `{"Name":"x"}`,
	} {
		assert.Equal(t, http.StatusForbidden, patch(body), body)
	}
	got := decode[tenant.Tenant](t, w.do(t, req{method: "GET", path: "/admin/tenants/acme"}))
	assert.Equal(t, "ACME Two", got.Name)
	assert.Equal(t, "seed-acme-2", got.OIDC.Audience)
	assert.Equal(t, tenant.StatusActive, got.Status, "nothing of a refused patch was applied")
	assert.Equal(t, 30, got.Limits.RateLimit)
}

func TestKeysStoredAsHashesAndShownOnce(t *testing.T) {
	w := newWorld(t)
	id, key := w.newKey(t, "acme")
	rec, err := w.st.AdminKeys().Get(t.Context(), "acme", id)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(key))
	assert.Equal(t, hex.EncodeToString(sum[:]), rec.Hash)
	list := w.do(t, req{method: "GET", path: "/admin/tenants/acme/keys"})
	require.Equal(t, http.StatusOK, list.Code)
	assert.NotContains(t, list.Body.String(), key)
	assert.NotContains(t, list.Body.String(), rec.Hash, "not even the hash is shown")
	assert.NotContains(t, list.Body.String(), w.revoked)
	got := decode[keyList](t, list)
	ids := []string{}
	for _, k := range got.Keys {
		ids = append(ids, k.ID)
	}
	assert.ElementsMatch(t, []string{w.acmeID, id}, ids, "the revoked key is gone")
	assert.Equal(t, http.StatusOK, w.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(key)}).Code)

	// Another form of the same key is not the key.
	for _, k := range []string{key + " ", strings.ToUpper(key), strings.Replace(key, "tk.acme.", "tk.globex.", 1), "tk.acme." + id + "."} {
		assert.Equal(t, http.StatusUnauthorized, w.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(k)}).Code, k)
	}
}

func TestRevokeAndCreateKeyErrors(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		q      req
		status int
		msg    string
	}{
		{req{method: "DELETE", path: "/admin/tenants/acme/keys/nope"}, 400, "Invalid key ID"},
		{req{method: "DELETE", path: "/admin/tenants/acme/keys/0123456789abcdef01234567"}, 404, "Key not found"},
		{req{method: "DELETE", path: "/admin/tenants/nobody/keys/0123456789abcdef01234567"}, 404, "Tenant not found"},
		{req{method: "POST", path: "/admin/tenants/nobody/keys"}, 404, "Tenant not found"},
		{req{method: "GET", path: "/admin/tenants/nobody/keys"}, 404, "Tenant not found"},
		{req{method: "GET", path: "/admin/tenants/ACME/keys"}, 400, "Invalid tenant identifier"},
		{req{method: "PATCH", path: "/admin/tenants/acme/keys"}, 405, "Method not allowed"},
	} {
		rep := w.do(t, tc.q)
		assert.Equal(t, tc.status, rep.Code, tc.q.path)
		assert.Contains(t, rep.Body.String(), tc.msg, tc.q.path)
	}
	for range store.MaxAdminKeys - 1 { // globex has one key already
		w.newKey(t, "globex")
	}
	rep := w.do(t, req{method: "POST", path: "/admin/tenants/globex/keys"})
	assert.Equal(t, http.StatusConflict, rep.Code, rep.Body.String())
	assert.Equal(t, "GET, HEAD, POST", w.do(t, req{method: "PUT", path: "/admin/tenants/acme/keys"}).Header().Get("Allow"))
	assert.Equal(t, "DELETE", w.do(t, req{method: "GET", path: "/admin/tenants/acme/keys/x"}).Header().Get("Allow"))
	assert.Equal(t, "GET, HEAD", w.do(t, req{method: "POST", path: "/admin/tenants/acme/audit"}).Header().Get("Allow"))
}

// TestFailedKeyLimitCoversEveryKind mixes every kind of wrong key from one
// address: after ten, even an operator key is refused with 429 until the
// minute is over, and the keys that were valid never counted.
func TestFailedKeyLimitCoversEveryKind(t *testing.T) {
	w := newWorld(t)
	remote := "198.51.100.7:1234"
	get := func(key string) int {
		return w.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(key), remote: remote}).Code
	}
	// Valid keys, whatever they answer, are not failures.
	for range 20 {
		require.Equal(t, http.StatusOK, get(w.acmeKey))
		require.Equal(t, http.StatusNotFound, get(w.otherKey))
	}
	wrong := []string{
		"wrong-operator-key", "", w.revoked, w.acmeKey[:len(w.acmeKey)-2] + "xx",
		"tk.acme.0123456789abcdef01234567." + strings.Repeat("A", 43), "tk.nobody.0123456789abcdef01234567." + strings.Repeat("A", 43),
		"tk.malformed", strings.Replace(w.otherKey, "tk.globex.", "tk.acme.", 1), secondKey + "x", testKey[1:],
	}
	for _, k := range wrong {
		require.Equal(t, http.StatusUnauthorized, get(k), k)
	}
	for _, k := range []string{testKey, secondKey, w.acmeKey, "anything"} {
		assert.Equal(t, http.StatusTooManyRequests, get(k), "locked out, whatever the key")
	}
	assert.Equal(t, http.StatusOK, w.do(t, req{method: "GET", path: "/admin/tenants/acme", remote: "198.51.100.8:1"}).Code,
		"another address is not")
	w.clock.Advance(time.Minute)
	assert.Equal(t, http.StatusOK, get(testKey))
}

// countingKeys counts the writes of last uses.
type countingKeys struct {
	store.AdminKeys
	touches atomic.Int64
}

func (c *countingKeys) Touch(ctx context.Context, id, keyID string, at time.Time) error {
	c.touches.Add(1)
	return c.AdminKeys.Touch(ctx, id, keyID, at)
}

func TestLastUseRecordedAtMostOncePerMinute(t *testing.T) {
	var ck *countingKeys
	w := newWorld(t, func(c *Config) {
		ck = &countingKeys{AdminKeys: c.Keys}
		c.Keys = ck
	})
	lastUse := func() time.Time {
		rec, err := w.st.AdminKeys().Get(t.Context(), "acme", w.acmeID)
		require.NoError(t, err)
		return rec.LastUsedAt
	}
	assert.True(t, lastUse().IsZero(), "never used")
	start := w.clock.Now()
	for range 10 {
		require.Equal(t, http.StatusOK, w.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(w.acmeKey)}).Code)
		w.clock.Advance(time.Second)
	}
	assert.Equal(t, int64(1), ck.touches.Load(), "one write for ten uses within a minute")
	assert.Equal(t, start, lastUse())
	w.clock.Advance(time.Minute)
	require.Equal(t, http.StatusOK, w.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(w.acmeKey)}).Code)
	assert.Equal(t, int64(2), ck.touches.Load())
	assert.Equal(t, w.clock.Now(), lastUse())
	list := decode[keyList](t, w.do(t, req{method: "GET", path: "/admin/tenants/acme/keys"}))
	assert.Equal(t, w.clock.Now(), list.Keys[0].LastUsedAt, "the list shows the last use")
}

// downKeys is a key store that cannot be reached.
type downKeys struct{ store.AdminKeys }

func (downKeys) Get(context.Context, string, string) (*store.AdminKey, error) {
	return nil, errDown
}

func TestKeyStoreDown(t *testing.T) {
	w := newWorld(t)
	key := w.acmeKey
	w2 := newFixture(t, withStores(w.st, w.trail), func(c *Config) { c.Keys = downKeys{} })
	rep := w2.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(key)})
	assert.Equal(t, http.StatusServiceUnavailable, rep.Code, "an outage is not a wrong key")
	assert.NotEmpty(t, rep.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusOK, w2.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Code,
		"operator keys need no store")
	for range 20 {
		w2.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(key)})
	}
	assert.Equal(t, http.StatusOK, w2.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Code, "and outages are not failures")
}

func TestOperatorKeyIDs(t *testing.T) {
	w := newWorld(t)
	assert.Equal(t, 1, w.h.operatorKey(sha256.Sum256([]byte(testKey))))
	assert.Equal(t, 2, w.h.operatorKey(sha256.Sum256([]byte(secondKey))))
	assert.Equal(t, 0, w.h.operatorKey(sha256.Sum256([]byte("other"))))
	w.do(t, req{method: "GET", path: "/admin/tenants", key: str(secondKey)})
	assert.Contains(t, w.logs.String(), `"actor":"operator-2"`)

	f := newFixture(t, func(c *Config) { c.APIKey, c.APIKeys = "", []string{"", secondKey} })
	assert.Equal(t, http.StatusOK, f.do(t, req{method: "GET", path: "/admin/tenants", key: str(secondKey)}).Code,
		"APIKeys alone open the API")
	assert.Equal(t, http.StatusUnauthorized, f.do(t, req{method: "GET", path: "/admin/tenants", key: str("")}).Code,
		"an empty entry is no key")
	closed := newFixture(t, func(c *Config) { c.APIKey, c.APIKeys = "", []string{""} })
	assert.Equal(t, http.StatusServiceUnavailable, closed.do(t, req{method: "GET", path: "/admin/tenants"}).Code)
}

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)) }
