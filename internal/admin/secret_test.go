package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

func testRing(t *testing.T, keys ...string) *keyring.Keyring {
	t.Helper()
	raws := make([][]byte, len(keys))
	for i, k := range keys {
		raws[i] = []byte(k)
	}
	ring, err := keyring.New(raws...)
	require.NoError(t, err)
	return ring
}

const (
	keyA = "key-A-0123456789abcdef0123456789"
	keyB = "key-B-0123456789abcdef0123456789"
)

func withKeyring(ring *keyring.Keyring) option { return func(c *Config) { c.Keyring = ring } }

// proxied is a tenant with an upstream client and its secret in clear.
const proxied = `{"id":"acme","name":"ACME","oidc":{"issuer":"https://auth.acme.com","audience":"seed-acme",
 "clientId":"seed-proxy","clientSecret":"upstream-secret-1"}}`

// proxiedAs is proxied with another ID and audience.
func proxiedAs(id string) string {
	return strings.NewReplacer(`"acme"`, `"`+id+`"`, "seed-acme", "seed-"+id).Replace(proxied)
}

// storedSecret returns the sealed oidc.clientSecret of tenant id as stored.
func (f *fixture) storedSecret(t *testing.T, id string) string {
	t.Helper()
	got, err := f.tenants.Get(t.Context(), id)
	require.NoError(t, err)
	return got.OIDC.ClientSecret
}

// opens returns the secret a sealed value holds for tenant id.
func opens(t *testing.T, ring *keyring.Keyring, sealed, id string) string {
	t.Helper()
	require.True(t, keyring.IsSealed(sealed), "stored sealed: %q", sealed)
	clear, err := ring.Open(sealed, tenant.ClientSecretContext(id))
	require.NoError(t, err)
	return clear
}

// TestClientSecretWriteOnly: a secret given in clear is stored sealed for
// its tenant, never answered (clientSecretSet says whether one is
// stored), kept by a patch that does not name it, replaced by one that
// does, and removed by null or "".
func TestClientSecretWriteOnly(t *testing.T) {
	ring := testRing(t, keyA)
	f := newFixture(t, withKeyring(ring))
	w := f.do(t, req{method: "POST", path: "/admin/tenants", body: proxied})
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"clientId":"seed-proxy","clientSecretSet":true},"limits"`)
	assert.NotContains(t, w.Body.String(), `"clientSecret"`)
	assert.NotContains(t, w.Body.String(), keyring.Prefix)
	sealed := f.storedSecret(t, "acme")
	assert.Equal(t, "upstream-secret-1", opens(t, ring, sealed, "acme"))
	_, err := ring.Open(sealed, tenant.ClientSecretContext("globex"))
	assert.ErrorIs(t, err, keyring.ErrOpen, "bound to its tenant")

	for _, path := range []string{"/admin/tenants/acme", "/admin/tenants"} {
		w = f.do(t, req{method: "GET", path: path})
		require.Equal(t, http.StatusOK, w.Code)
		assert.Contains(t, w.Body.String(), `"clientSecretSet":true`, path)
		assert.NotContains(t, w.Body.String(), `"clientSecret"`, path)
	}

	patch := func(body string) *stringsResult {
		w := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: body, contentType: "application/merge-patch+json"})
		return &stringsResult{w.Code, w.Body.String()}
	}
	r := patch(`{"name":"ACME 2","oidc":{"scopes":["openid","email"]}}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Contains(t, r.body, `"clientSecretSet":true`)
	assert.Equal(t, sealed, f.storedSecret(t, "acme"), "a patch that does not name the secret keeps the stored value")

	r = patch(`{"oidc":{"clientSecret":"upstream-secret-2"}}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Equal(t, "upstream-secret-2", opens(t, ring, f.storedSecret(t, "acme"), "acme"))
	assert.NotContains(t, r.body, "upstream-secret")

	r = patch(`{"oidc":{"clientSecret":null}}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Contains(t, r.body, `"clientSecretSet":false`)
	assert.Empty(t, f.storedSecret(t, "acme"))

	require.Equal(t, http.StatusOK, patch(`{"oidc":{"clientSecret":"upstream-secret-3"}}`).code)
	r = patch(`{"oidc":{"clientSecret":""}}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Empty(t, f.storedSecret(t, "acme"), `"" removes it too`)

	// A tenant without an upstream client is answered as before.
	f.create(t, `{"id":"globex","name":"Globex","oidc":{"issuer":"https://auth.globex.com","audience":"g"}}`)
	w = f.do(t, req{method: "GET", path: "/admin/tenants/globex"})
	assert.Contains(t, w.Body.String(), `"oidc":{"issuer":"https://auth.globex.com","audience":"g"},"limits"`)
}

// stringsResult is a status and a body.
type stringsResult struct {
	code int
	body string
}

// TestClientSecretRefused: the bad shapes of a secret, a secret without
// keys, and a clientSecretSet that contradicts the result are 400, and
// nothing is stored.
func TestClientSecretRefused(t *testing.T) {
	noKeys := newFixture(t)
	w := noKeys.do(t, req{method: "POST", path: "/admin/tenants", body: proxied})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "TENANT_ENCRYPTION_KEY")
	noKeys.create(t, strings.Replace(proxied, `,"clientSecret":"upstream-secret-1"`, "", 1))
	w = noKeys.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"oidc":{"clientSecret":"s"}}`})
	require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "TENANT_ENCRYPTION_KEY")
	w = noKeys.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"oidc":{"clientSecret":null}}`})
	assert.Equal(t, http.StatusOK, w.Code, "removing needs no key: %s", w.Body.String())

	f := newFixture(t, withKeyring(testRing(t, keyA)))
	for _, tc := range []struct{ body, want string }{
		{`{"id":"x","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientSecret":"s"}}`, "needs oidc.clientId"},
		{`{"id":"x","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","clientSecret":7}}`, "must be a string"},
		{`{"id":"x","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","clientSecret":"a\u0000b"}}`, "printable ASCII"},
		{`{"id":"x","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","clientSecret":"` + strings.Repeat("s", MaxClientSecretLength+1) + `"}}`, "at most 2048 bytes"},
		{`{"id":"x","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","ClientSecret":"s"}}`, "oidc.ClientSecret"},
		{`{"id":"x","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","clientSecretSet":true}}`, "clientSecretSet is read-only"},
		{`{"id":"x","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","clientSecretSet":"yes"}}`, "true or false"},
		{`{"id":"X","name":"X","oidc":{"issuer":"https://i.example","audience":"a","clientId":"c","clientSecret":"s"}}`, "id:"},
	} {
		w := f.do(t, req{method: "POST", path: "/admin/tenants", body: tc.body})
		assert.Equal(t, http.StatusBadRequest, w.Code, tc.body)
		assert.Contains(t, w.Body.String(), tc.want, tc.body)
	}
	assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "GET", path: "/admin/tenants/x"}).Code)

	f.create(t, proxied)
	sealed := f.storedSecret(t, "acme")
	for _, tc := range []struct{ body, want string }{
		{`{"oidc":{"clientSecretSet":false}}`, "clientSecretSet is read-only"},
		{`{"oidc":{"clientSecret":null,"clientSecretSet":true}}`, "clientSecretSet is read-only"},
		{`{"oidc":{"clientSecret":["s"]}}`, "must be a string"},
		{`{"oidc":{"clientId":null}}`, "needs oidc.clientId"},
	} {
		w := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: tc.body})
		assert.Equal(t, http.StatusBadRequest, w.Code, tc.body)
		assert.Contains(t, w.Body.String(), tc.want, tc.body)
	}
	assert.Equal(t, sealed, f.storedSecret(t, "acme"), "refused patches change nothing")

	// A tenant read and sent back whole is accepted: clientSecretSet
	// agrees, and the secret is kept.
	got := f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String()
	w = f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: got})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, sealed, f.storedSecret(t, "acme"))
}

// TestClientSecretRotation: a tenant written after a new key was put
// first is sealed again with it; a value whose key is gone is kept (and
// said in the log) so that the tenant can still be patched and given a
// new secret.
func TestClientSecretRotation(t *testing.T) {
	st := memstore.New(memstore.Config{})
	old := newFixture(t, withKeyring(testRing(t, keyB)), func(c *Config) { c.Tenants = st.Tenants() })
	old.create(t, proxied)
	sealedB := old.storedSecret(t, "acme")

	rotated := testRing(t, keyA, keyB)
	f := newFixture(t, withKeyring(rotated), func(c *Config) { c.Tenants = st.Tenants() })
	require.False(t, rotated.Current(sealedB))
	w := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"ACME 2"}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	sealedA := f.storedSecret(t, "acme")
	assert.NotEqual(t, sealedB, sealedA)
	assert.True(t, rotated.Current(sealedA), "sealed again with the first key")
	assert.Equal(t, "upstream-secret-1", opens(t, testRing(t, keyA), sealedA, "acme"), "opens without the old key")

	// Only B is gone from this one's keys: the value cannot be opened,
	// and it is kept as it is.
	old.create(t, proxiedAs("globex"))
	sealedOld := old.storedSecret(t, "globex")
	g := newFixture(t, withKeyring(testRing(t, keyA)), func(c *Config) { c.Tenants = st.Tenants() })
	w = g.do(t, req{method: "PATCH", path: "/admin/tenants/globex", body: `{"name":"Globex"}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, sealedOld, g.storedSecret(t, "globex"))
	assert.Contains(t, g.logs.String(), "does not open with the configured keys")
	assert.NotContains(t, g.logs.String(), sealedOld)
	w = g.do(t, req{method: "PATCH", path: "/admin/tenants/globex", body: `{"oidc":{"clientSecret":"new"}}`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "new", opens(t, testRing(t, keyA), g.storedSecret(t, "globex"), "globex"))
}

// TestClientSecretAuditFields: the trail names oidc.clientSecret when a
// body sets or removes it, never for a value only sealed again, and
// never its value.
func TestClientSecretAuditFields(t *testing.T) {
	w := newWorld(t, withKeyring(testRing(t, keyB)))
	rotated := newFixture(t, withKeyring(testRing(t, keyA, keyB)), withStores(w.st, w.trail))
	patch := func(f *fixture, body string, key *string) {
		t.Helper()
		rep := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: body, key: key})
		require.Equal(t, http.StatusOK, rep.Code, rep.Body.String())
	}
	patch(w.fixture, `{"oidc":{"clientId":"seed-proxy","clientSecret":"s1"}}`, str(w.acmeKey)) // a tenant key may set it
	sealedB := w.storedSecret(t, "acme")
	patch(rotated, `{"name":"A2"}`, nil)
	require.NotEqual(t, sealedB, w.storedSecret(t, "acme"), "sealed again with the new key")
	patch(rotated, `{"oidc":{"clientSecret":"s2"}}`, nil)
	patch(rotated, `{"oidc":{"clientSecret":null}}`, nil)
	patch(rotated, `{"oidc":{"clientSecret":null}}`, nil)
	w.create(t, proxiedAs("x1"))

	var fields [][]string
	for _, e := range briefs(w.trailOf(t, "acme"))[4:] {
		fields = append(fields, e.Fields)
	}
	assert.Equal(t, [][]string{
		{"oidc.clientId", "oidc.clientSecret"},
		{"name"}, // only sealed again: not a change of the secret
		{"oidc.clientSecret"},
		{"oidc.clientSecret"},
		nil, // nothing was left to remove
	}, fields)
	created := briefs(w.trailOf(t, "x1"))
	require.Len(t, created, 1)
	assert.Equal(t, []string{"id", "name", "oidc.audience", "oidc.clientId", "oidc.clientSecret", "oidc.issuer"}, created[0].Fields)
}

// TestIssuerAudienceConflict: a tenant whose OIDC issuer and audience
// another tenant has is a 409 that says so, on create and on PATCH; a
// duplicate ID is still "Tenant already exists".
func TestIssuerAudienceConflict(t *testing.T) {
	f := newFixture(t)
	f.create(t, acme)
	same := `{"id":"globex","name":"Globex","oidc":{"issuer":"https://auth.acme.com","audience":"seed-acme"}}`
	w := f.do(t, req{method: "POST", path: "/admin/tenants", body: same})
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.JSONEq(t, `{"error":"OIDC issuer and audience already belong to another tenant"}`, w.Body.String())

	f.create(t, `{"id":"globex","name":"Globex","oidc":{"issuer":"https://auth.acme.com","audience":"seed-globex"}}`)
	w = f.do(t, req{method: "PATCH", path: "/admin/tenants/globex", body: `{"oidc":{"audience":"seed-acme"}}`})
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.JSONEq(t, `{"error":"OIDC issuer and audience already belong to another tenant"}`, w.Body.String())

	w = f.do(t, req{method: "POST", path: "/admin/tenants", body: `{"id":"globex","name":"Again"}`})
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.JSONEq(t, `{"error":"Tenant already exists"}`, w.Body.String())
}

// TestClientSecretGoesNowhereNew: a change of where the stored secret is
// sent (the issuer it is discovered from, the token or the revocation
// endpoint) must send the secret again or remove it, so that a tenant's
// own key cannot have a secret the operator set sent to an endpoint of
// its choosing. Other changes keep it, and a tenant without a secret
// changes its provider freely.
func TestClientSecretGoesNowhereNew(t *testing.T) {
	ring := testRing(t, keyA)
	w := newWorld(t, withKeyring(ring))
	r := w.do(t, req{method: "PATCH", path: "/admin/tenants/acme", contentType: "application/merge-patch+json",
		body: `{"oidc":{"clientId":"seed-proxy","clientSecret":"operator-secret"}}`})
	require.Equal(t, http.StatusOK, r.Code, r.Body.String())
	sealed := w.storedSecret(t, "acme")

	patch := func(body string) *stringsResult {
		r := w.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: body, key: &w.acmeKey,
			contentType: "application/merge-patch+json"})
		return &stringsResult{r.Code, r.Body.String()}
	}
	for _, body := range []string{
		`{"oidc":{"tokenUrl":"https://evil.example/token"}}`,
		`{"oidc":{"revocationUrl":"https://evil.example/revoke"}}`,
		`{"oidc":{"issuer":"https://evil.example"}}`,
	} {
		r := patch(body)
		assert.Equal(t, http.StatusBadRequest, r.code, body)
		assert.Contains(t, r.body, "clientSecret must be sent again", body)
		assert.Equal(t, sealed, w.storedSecret(t, "acme"), body)
	}
	got, err := w.tenants.Get(t.Context(), "acme")
	require.NoError(t, err)
	assert.Empty(t, got.OIDC.TokenURL, "nothing of a refused change is stored")

	r2 := patch(`{"name":"ACME renamed","oidc":{"scopes":["openid","email"]}}`)
	require.Equal(t, http.StatusOK, r2.code, r2.body)
	assert.Equal(t, sealed, w.storedSecret(t, "acme"), "other changes keep the secret")

	r2 = patch(`{"oidc":{"tokenUrl":"https://auth.acme.com/token2","clientSecret":"tenant-secret"}}`)
	require.Equal(t, http.StatusOK, r2.code, r2.body)
	assert.Equal(t, "tenant-secret", opens(t, ring, w.storedSecret(t, "acme"), "acme"))

	r2 = patch(`{"oidc":{"tokenUrl":"https://auth.acme.com/token3","clientSecret":null}}`)
	require.Equal(t, http.StatusOK, r2.code, r2.body)
	r2 = patch(`{"oidc":{"tokenUrl":"https://auth.acme.com/token4"}}`)
	require.Equal(t, http.StatusOK, r2.code, "without a secret stored: %s", r2.body)
}
