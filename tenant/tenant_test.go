package tenant

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedExample is the tenant metadata of the Seed MCP server, byte for
// byte: the JSON a tenant is read and written as.
const seedExample = `{
  "id": "acme-corp",
  "name": "ACME Corporation",
  "domain": "acme.seed.example.com",
  "oidc": {
    "issuer": "https://auth.acme.com",
    "audience": "seed-mcp-acme",
    "jwksUri": "https://auth.acme.com/.well-known/jwks.json",
    "tokenUrl": "https://auth.acme.com/oauth/token",
    "authorizationUrl": "https://auth.acme.com/oauth/authorize"
  },
  "limits": { "maxClients": 100, "maxSessions": 1000, "rateLimit": 1000 },
  "status": "active",
  "createdAt": "2026-01-05T00:00:00Z",
  "updatedAt": "2026-01-05T00:00:00Z"
}`

// validTenant returns the seed's example as a struct, a fresh copy each
// time so that tests can change it.
func validTenant() *Tenant {
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	return &Tenant{
		ID:     "acme-corp",
		Name:   "ACME Corporation",
		Domain: "acme.seed.example.com",
		OIDC: OIDC{
			Issuer:           "https://auth.acme.com",
			Audience:         "seed-mcp-acme",
			JWKSURI:          "https://auth.acme.com/.well-known/jwks.json",
			TokenURL:         "https://auth.acme.com/oauth/token",
			AuthorizationURL: "https://auth.acme.com/oauth/authorize",
		},
		Limits:    Limits{MaxClients: 100, MaxSessions: 1000, RateLimit: 1000},
		Status:    StatusActive,
		CreatedAt: at,
		UpdatedAt: at,
	}
}

func TestTenantJSONSeedExample(t *testing.T) {
	var got Tenant
	require.NoError(t, json.Unmarshal([]byte(seedExample), &got))
	assert.Equal(t, *validTenant(), got)
	require.NoError(t, got.Validate())

	out, err := json.Marshal(&got)
	require.NoError(t, err)
	assert.JSONEq(t, seedExample, string(out))
}

func TestTenantJSONRoundTrip(t *testing.T) {
	minimal := &Tenant{ID: "beta", Name: "Beta", Status: StatusSuspended}
	for _, want := range []*Tenant{validTenant(), minimal} {
		data, err := json.Marshal(want)
		require.NoError(t, err)
		var got Tenant
		require.NoError(t, json.Unmarshal(data, &got))
		assert.Equal(t, *want, got)
	}
}

func TestTenantJSONOmitsEmptyOptionalFields(t *testing.T) {
	data, err := json.Marshal(&Tenant{ID: "beta", Name: "Beta", Status: StatusActive})
	require.NoError(t, err)
	// Limits are always present: 0 means unlimited, and saying so is
	// clearer than leaving it out.
	assert.JSONEq(t, `{"id":"beta","name":"Beta","limits":{"maxClients":0,"maxSessions":0,"rateLimit":0},"status":"active"}`, string(data))
}

func TestTenantValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Tenant)
		wantErr string // "" for valid; otherwise the JSON field named
	}{
		{"seed example", func(*Tenant) {}, ""},
		{"no domain", func(t *Tenant) { t.Domain = "" }, ""},
		{"no OIDC", func(t *Tenant) { t.OIDC = OIDC{} }, ""},
		{"OIDC by discovery only", func(t *Tenant) { t.OIDC = OIDC{Issuer: "https://auth.acme.com", Audience: "a"} }, ""},
		{"suspended", func(t *Tenant) { t.Status = StatusSuspended }, ""},
		{"unlimited", func(t *Tenant) { t.Limits = Limits{} }, ""},
		{"name of MaxNameLength bytes", func(t *Tenant) { t.Name = strings.Repeat("x", MaxNameLength) }, ""},
		{"name with non-ASCII", func(t *Tenant) { t.Name = "Société Générale" }, ""},
		{"http issuer on localhost", func(t *Tenant) { t.OIDC.Issuer = "http://localhost:9000" }, ""},
		{"http issuer on 127.0.0.1", func(t *Tenant) { t.OIDC.Issuer = "http://127.0.0.1:9000/realms/x" }, ""},
		{"http issuer on [::1]", func(t *Tenant) { t.OIDC.Issuer = "http://[::1]:9000" }, ""},
		{"issuer on a private address", func(t *Tenant) { t.OIDC.Issuer = "https://10.1.2.3:8443/realms/x" }, ""},
		{"issuer on a name with digits", func(t *Tenant) { t.OIDC.Issuer = "https://idp1.acme.com2:65535" }, ""},
		{"http JWKS on loopback", func(t *Tenant) { t.OIDC.JWKSURI = "http://127.0.0.2/jwks" }, ""},

		{"bad ID", func(t *Tenant) { t.ID = "ACME" }, "id:"},
		{"reserved ID", func(t *Tenant) { t.ID = ReservedID }, "id:"},
		{"empty ID", func(t *Tenant) { t.ID = "" }, "id:"},
		{"empty name", func(t *Tenant) { t.Name = "" }, "name"},
		{"blank name", func(t *Tenant) { t.Name = " \t " }, "name"},
		{"long name", func(t *Tenant) { t.Name = strings.Repeat("x", MaxNameLength+1) }, "name"},
		{"name with control character", func(t *Tenant) { t.Name = "ACME\n" }, "name"},
		{"name with invalid UTF-8", func(t *Tenant) { t.Name = "ACME\xff" }, "name"},
		{"upper-case domain", func(t *Tenant) { t.Domain = "ACME.example.com" }, "domain"},
		{"domain with port", func(t *Tenant) { t.Domain = "acme.example.com:443" }, "domain"},
		{"domain with trailing dot", func(t *Tenant) { t.Domain = "acme.example.com." }, "domain"},
		{"single-label domain", func(t *Tenant) { t.Domain = "localhost" }, "domain"},
		{"domain with pattern bytes", func(t *Tenant) { t.Domain = "*.example.com" }, "domain"},
		{"empty status", func(t *Tenant) { t.Status = "" }, "status"},
		{"unknown status", func(t *Tenant) { t.Status = "deleted" }, "status"},
		{"upper-case status", func(t *Tenant) { t.Status = "Active" }, "status"},
		{"audience without issuer", func(t *Tenant) { t.OIDC.Issuer = "" }, "oidc.issuer"},
		{"only a JWKS URI", func(t *Tenant) { t.OIDC = OIDC{JWKSURI: "https://auth.acme.com/jwks"} }, "oidc.issuer"},
		{"issuer without audience", func(t *Tenant) { t.OIDC.Audience = "" }, "oidc.audience"},
		{"audience with control character", func(t *Tenant) { t.OIDC.Audience = "a\x00" }, "oidc.audience"},
		{"http issuer elsewhere", func(t *Tenant) { t.OIDC.Issuer = "http://auth.acme.com" }, "oidc.issuer"},
		{"http issuer on a name that starts with localhost", func(t *Tenant) { t.OIDC.Issuer = "http://localhost.evil.com" }, "oidc.issuer"},
		{"relative issuer", func(t *Tenant) { t.OIDC.Issuer = "/auth" }, "oidc.issuer"},
		{"issuer without host", func(t *Tenant) { t.OIDC.Issuer = "https://" }, "oidc.issuer"},
		{"issuer with user info", func(t *Tenant) { t.OIDC.Issuer = "https://user:pw@auth.acme.com" }, "oidc.issuer"},
		{"issuer with fragment", func(t *Tenant) { t.OIDC.Issuer = "https://auth.acme.com#x" }, "oidc.issuer"},
		{"issuer of another scheme", func(t *Tenant) { t.OIDC.Issuer = "ftp://auth.acme.com" }, "oidc.issuer"},
		{"opaque issuer", func(t *Tenant) { t.OIDC.Issuer = "https:auth.acme.com" }, "oidc.issuer"},
		{"long issuer", func(t *Tenant) { t.OIDC.Issuer = "https://auth.acme.com/" + strings.Repeat("a", 2048) }, "oidc.issuer"},
		{"issuer on the metadata address", func(t *Tenant) { t.OIDC.Issuer = "https://169.254.169.254/latest" }, "oidc.issuer"},
		{"jwksUri on a link-local IPv6 address", func(t *Tenant) { t.OIDC.JWKSURI = "https://[fe80::1]/keys" }, "oidc.jwksUri"},
		{"jwksUri with an IPv6 zone", func(t *Tenant) { t.OIDC.JWKSURI = "https://[fe80::1%25eth0]/keys" }, "oidc.jwksUri"},
		{"issuer on the unspecified address", func(t *Tenant) { t.OIDC.Issuer = "https://0.0.0.0" }, "oidc.issuer"},
		{"issuer on [::]", func(t *Tenant) { t.OIDC.Issuer = "https://[::]:8443" }, "oidc.issuer"},
		{"issuer on a multicast address", func(t *Tenant) { t.OIDC.Issuer = "https://224.0.0.1" }, "oidc.issuer"},
		{"issuer on a mapped link-local address", func(t *Tenant) { t.OIDC.Issuer = "https://[::ffff:169.254.169.254]" }, "oidc.issuer"},
		{"issuer on a decimal address", func(t *Tenant) { t.OIDC.Issuer = "https://2130706433" }, "oidc.issuer"},
		{"issuer on a short address", func(t *Tenant) { t.OIDC.Issuer = "http://127.1" }, "oidc.issuer"},
		{"issuer on a hexadecimal address", func(t *Tenant) { t.OIDC.Issuer = "https://0x7f000001" }, "oidc.issuer"},
		{"issuer on port 0", func(t *Tenant) { t.OIDC.Issuer = "https://auth.acme.com:0" }, "oidc.issuer"},
		{"issuer on port 65536", func(t *Tenant) { t.OIDC.Issuer = "https://auth.acme.com:65536" }, "oidc.issuer"},
		{"http JWKS elsewhere", func(t *Tenant) { t.OIDC.JWKSURI = "http://auth.acme.com/jwks" }, "oidc.jwksUri"},
		{"relative JWKS", func(t *Tenant) { t.OIDC.JWKSURI = "jwks.json" }, "oidc.jwksUri"},
		{"http token URL elsewhere", func(t *Tenant) { t.OIDC.TokenURL = "http://auth.acme.com/token" }, "oidc.tokenUrl"},
		{"token URL with spaces", func(t *Tenant) { t.OIDC.TokenURL = "https://auth.acme.com/a b\n" }, "oidc.tokenUrl"},
		{"http authorization URL elsewhere", func(t *Tenant) { t.OIDC.AuthorizationURL = "http://auth.acme.com/authorize" }, "oidc.authorizationUrl"},
		{"javascript authorization URL", func(t *Tenant) { t.OIDC.AuthorizationURL = "javascript:alert(1)" }, "oidc.authorizationUrl"},
		{"negative maxClients", func(t *Tenant) { t.Limits.MaxClients = -1 }, "limits.maxClients"},
		{"negative maxSessions", func(t *Tenant) { t.Limits.MaxSessions = -1 }, "limits.maxSessions"},
		{"negative rateLimit", func(t *Tenant) { t.Limits.RateLimit = -1 }, "limits.rateLimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := validTenant()
			tt.change(tn)
			err := tn.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			if tt.wantErr == "id:" {
				assert.ErrorIs(t, err, ErrInvalidID)
				assert.NotErrorIs(t, err, ErrInvalid)
			} else {
				assert.ErrorIs(t, err, ErrInvalid)
				assert.NotErrorIs(t, err, ErrInvalidID)
			}
		})
	}
}

func TestValidDomain(t *testing.T) {
	for _, d := range []string{"acme.com", "mcp.acme.example.com", "admin.example.com", "a-b.c0", "xn--bcher-kva.de"} {
		assert.True(t, ValidDomain(d), d)
	}
	for _, d := range []string{
		"", "localhost", "acme.com.", ".acme.com", "acme..com", "ACME.com", "acme.com:443",
		"-acme.com", "acme-.com", "ac_me.com", "*.acme.com", "{x}.com", "bücher.de",
		strings.Repeat("a", 64) + ".com", strings.Repeat("abc.", 63) + "com",
	} {
		assert.False(t, ValidDomain(d), d)
	}
}

func TestTenantActiveAndConfigured(t *testing.T) {
	tn := validTenant()
	assert.True(t, tn.Active())
	assert.True(t, tn.OIDC.Configured())
	tn.Status = StatusSuspended
	assert.False(t, tn.Active())
	tn.Status = ""
	assert.False(t, tn.Active())
	assert.False(t, OIDC{Audience: "a"}.Configured())
}

func TestTenantCopiesWhole(t *testing.T) {
	// Assigning a Tenant copies it: the doc comment promises no shared
	// references, which the caches rely on.
	a := validTenant()
	b := *a
	b.OIDC.Issuer = "https://other.example.com"
	b.Limits.MaxClients = 1
	assert.Equal(t, "https://auth.acme.com", a.OIDC.Issuer)
	assert.Equal(t, 100, a.Limits.MaxClients)
}

func TestValidLabel(t *testing.T) {
	for l, want := range map[string]bool{
		"acme": true, "admin": true, "a-1": true, strings.Repeat("a", 63): true,
		"": false, "-a": false, "a-": false, "A": false, "a.b": false, strings.Repeat("a", 64): false,
	} {
		assert.Equal(t, want, ValidLabel(l), "%q", l)
	}
}
