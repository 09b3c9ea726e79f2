package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"c1", true},
		{"https://client.example.com/metadata.json", true},
		{"ip:2001:db8::1", true},
		{"!#$%&'()+,-./;<=>@^_`|~\"", true},
		{strings.Repeat("k", store.MaxKeyLength), true},
		{"", false},
		{strings.Repeat("k", store.MaxKeyLength+1), false},
		{"a b", false},
		{"{acme}", false},
		{"a}", false},
		{"*", false},
		{"a?", false},
		{"[a]", false},
		{`a\b`, false},
		{"a\tb", false},
		{"a\x00", false},
		{"a\x7f", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := store.ValidKey(tt.key)
		if tt.ok {
			assert.NoError(t, err, "%q", tt.key)
		} else {
			assert.ErrorIs(t, err, store.ErrInvalidKey, "%q", tt.key)
		}
	}
}

func TestValidKeyDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = store.ValidKey("https://client.example.com/metadata.json")
		_ = store.ValidKey("bad key")
	})
	assert.Zero(t, allocs)
}

func BenchmarkValidKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = store.ValidKey("0b6c5a9e-1d8f-4c1e-9f55-6a3f2b7d9e10")
	}
}

func TestTenantErrorsMatchBothPackages(t *testing.T) {
	tests := []struct {
		err       error
		store, tn error
	}{
		{store.ErrTenantNotFound, store.ErrNotFound, tenant.ErrNotFound},
		{store.ErrTenantExists, store.ErrExists, tenant.ErrExists},
		{store.ErrDomainExists, store.ErrExists, tenant.ErrExists},
		{store.ErrIssuerAudienceExists, store.ErrExists, tenant.ErrExists},
	}
	for _, tt := range tests {
		wrapped := fmt.Errorf("redisstore: %w: %q", tt.err, "acme")
		assert.ErrorIs(t, wrapped, tt.err)
		assert.ErrorIs(t, wrapped, tt.store)
		assert.ErrorIs(t, wrapped, tt.tn)
		assert.NotContains(t, tt.err.Error(), "\n")
	}
	assert.False(t, errors.Is(store.ErrTenantNotFound, store.ErrExists))
	assert.ErrorIs(t, fmt.Errorf("redisstore: %w", store.ErrOwnerLimit), store.ErrLimit)
	assert.Equal(t, "store: owner's session limit reached", store.ErrOwnerLimit.Error())
}

func TestListLimit(t *testing.T) {
	assert.Equal(t, store.DefaultListLimit, store.ListLimit(0))
	assert.Equal(t, store.DefaultListLimit, store.ListLimit(-3))
	assert.Equal(t, 7, store.ListLimit(7))
	assert.Equal(t, store.MaxListLimit, store.ListLimit(store.MaxListLimit+1))
}

func TestClientJSONKeepsUnknownMembers(t *testing.T) {
	in := `{"client_id":"c1","redirect_uris":["https://app.example.com/cb"],` +
		`"client_name":"App","software_statement":"eyJ","x_vendor":{"tier":[1,2]},"zeta":null}`
	var c store.Client
	require.NoError(t, json.Unmarshal([]byte(in), &c))
	assert.Equal(t, "c1", c.ClientID)
	assert.Equal(t, []string{"https://app.example.com/cb"}, c.RedirectURIs)
	assert.Equal(t, map[string]json.RawMessage{
		"software_statement": json.RawMessage(`"eyJ"`),
		"x_vendor":           json.RawMessage(`{"tier":[1,2]}`),
		"zeta":               json.RawMessage(`null`),
	}, c.Extra)

	out, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, in, string(out))

	var again store.Client
	require.NoError(t, json.Unmarshal(out, &again))
	assert.Equal(t, c, again)
}

func TestClientJSONFieldsWinOverExtra(t *testing.T) {
	c := store.Client{ClientID: "real", Extra: map[string]json.RawMessage{
		"client_id": json.RawMessage(`"forged"`),
		"other":     json.RawMessage(`1`),
	}}
	out, err := json.Marshal(&c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"client_id":"real","other":1}`, string(out))

	c.Extra = map[string]json.RawMessage{"bad": json.RawMessage(`{`)}
	_, err = json.Marshal(&c)
	assert.Error(t, err)
}

func TestClientJSONWithoutExtra(t *testing.T) {
	var c store.Client
	require.NoError(t, json.Unmarshal([]byte(`{"client_id":"c1","scope":"mcp"}`), &c))
	assert.Nil(t, c.Extra)
	out, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Equal(t, `{"client_id":"c1","scope":"mcp"}`, string(out))
}

// IssuerPair is the digest replicas and stores agree on: the hex SHA-256
// of the issuer, a NUL byte and the audience, the name redisstore's claim
// key and set of pairs use too.
func TestIssuerPair(t *testing.T) {
	assert.Equal(t, "c7153f01d3e4a4ca5fdb8dc170c5c135b29d9fefcc6cff8f10b5de7f6ef375cc",
		store.IssuerPair("https://idp.example.com", "seed"))
	assert.NotEqual(t, store.IssuerPair("https://idp.example.com/a", "b"), store.IssuerPair("https://idp.example.com", "a/b"))
}
