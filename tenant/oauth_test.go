package tenant_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

func proxied() *tenant.Tenant {
	return &tenant.Tenant{
		ID:     "acme",
		Name:   "ACME",
		Status: tenant.StatusActive,
		OIDC: tenant.OIDC{
			Issuer:        "https://auth.acme.com",
			Audience:      "mcp",
			ClientID:      "seed-proxy",
			ClientSecret:  "sealed.v1.0011aabb.AAAA",
			Scopes:        "openid profile",
			RevocationURL: "https://auth.acme.com/revoke",
		},
	}
}

func TestUpstreamClientValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(o *tenant.OIDC)
		field  string // "" means valid
	}{
		{"complete", func(*tenant.OIDC) {}, ""},
		{"public client", func(o *tenant.OIDC) { o.ClientSecret = "" }, ""},
		{"default scopes", func(o *tenant.OIDC) { o.Scopes = "" }, ""},
		{"secret without client", func(o *tenant.OIDC) { o.ClientID = "" }, "oidc.clientSecret"},
		{"client id with newline", func(o *tenant.OIDC) { o.ClientID = "a\nb" }, "oidc.clientId"},
		{"client id not ASCII", func(o *tenant.OIDC) { o.ClientID = "clïent" }, "oidc.clientId"},
		{"secret too long", func(o *tenant.OIDC) { o.ClientSecret = strings.Repeat("a", 4097) }, "oidc.clientSecret"},
		{"revocation over http", func(o *tenant.OIDC) { o.RevocationURL = "http://auth.acme.com/revoke" }, "oidc.revocationUrl"},
		{"revocation on loopback", func(o *tenant.OIDC) { o.RevocationURL = "http://127.0.0.1:9/revoke" }, ""},
		{"scope with quote", func(o *tenant.OIDC) { o.Scopes = `openid a"b` }, "oidc.scopes"},
		{"scope twice", func(o *tenant.OIDC) { o.Scopes = "openid openid" }, "oidc.scopes"},
		{"empty scope", func(o *tenant.OIDC) { o.Scopes = "openid  profile" }, "oidc.scopes"},
		{"client without issuer", func(o *tenant.OIDC) { *o = tenant.OIDC{ClientID: "x"} }, "oidc.issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := proxied()
			tc.change(&tt.OIDC)
			err := tt.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tenant.ErrInvalid)
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestScopesJSON(t *testing.T) {
	tt := proxied()
	data, err := json.Marshal(tt)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"scopes":["openid","profile"]`)
	assert.Contains(t, string(data), `"clientId":"seed-proxy"`)
	assert.Contains(t, string(data), `"revocationUrl":"https://auth.acme.com/revoke"`)

	var back tenant.Tenant
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, *tt, back, "a tenant survives its JSON")
	assert.Equal(t, []string{"openid", "profile"}, back.OIDC.Scopes.List())

	tt.OIDC.Scopes = ""
	data, err = json.Marshal(tt)
	require.NoError(t, err)
	assert.NotContains(t, string(data), "scopes", "no scopes: the member is left out")
	assert.Nil(t, tt.OIDC.Scopes.List())
	assert.Equal(t, tenant.DefaultScopes, tt.OIDC.Scopes.Or(tenant.DefaultScopes))
	assert.Equal(t, []string{"openid"}, tenant.DefaultScopes.List())

	for _, tc := range []struct {
		in   string
		want tenant.Scopes
		ok   bool
	}{
		{`["openid"]`, "openid", true},
		{`[]`, "", true},
		{`null`, "", true},
		{`["openid profile"]`, "", false}, // never split
		{`[" openid"]`, "", false},        // never trimmed
		{`["a","a"]`, "", false},
		{`[""]`, "", false},
		{`"openid"`, "", false},
		{`[1]`, "", false},
		{`["` + strings.Repeat("x", 257) + `"]`, "", false},
		{`[` + strings.Repeat(`"s",`, 33) + `"t"]`, "", false},
	} {
		var s tenant.Scopes
		err := json.Unmarshal([]byte(tc.in), &s)
		if !tc.ok {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, s, tc.in)
	}
}

func TestTenantStaysAValue(t *testing.T) {
	// Copying a tenant copies it whole: no slice or map inside it, so a
	// cached tenant cannot be changed through a copy.
	a := proxied()
	b := *a
	b.OIDC.Scopes = "email"
	assert.Equal(t, tenant.Scopes("openid profile"), a.OIDC.Scopes)
	assert.True(t, a.OIDC == proxied().OIDC, "OIDC stays comparable")
}

func TestClientSecretContext(t *testing.T) {
	assert.Equal(t, "acme/oidc.clientSecret", tenant.ClientSecretContext("acme"))
	assert.NotEqual(t, tenant.ClientSecretContext("acme"), tenant.ClientSecretContext("acme-corp"))
}

func TestClientSecretMustBeSealed(t *testing.T) {
	tt := proxied()
	tt.OIDC.ClientSecret = "plain-secret"
	err := tt.Validate()
	require.ErrorIs(t, err, tenant.ErrInvalid)
	assert.Contains(t, err.Error(), "oidc.clientSecret")
	assert.NotContains(t, err.Error(), "plain-secret", "the error never shows the secret")
}
