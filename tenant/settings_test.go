package tenant_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

func TestSettingsJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     tenant.Settings
		err      bool
	}{
		{"object, made compact", `{ "corsOrigins" : [ "https://a.example" ],
			"flags": {"beta": true} }`, `{"corsOrigins":["https://a.example"],"flags":{"beta":true}}`, false},
		{"empty object is none", `{}`, "", false},
		{"null is none", `null`, "", false},
		{"array", `["a"]`, "", true},
		{"string", `"x"`, "", true},
		{"number", `1`, "", true},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "", true},
		{"at the bound", `{"a":"` + strings.Repeat("x", tenant.MaxSettingsBytes-8) + `"}`, tenant.Settings(`{"a":"` + strings.Repeat("x", tenant.MaxSettingsBytes-8) + `"}`), false},
		{"over the bound", `{"a":"` + strings.Repeat("x", tenant.MaxSettingsBytes-7) + `"}`, "", true},
		{"bound counts compact bytes", `{"a":   "` + strings.Repeat("x", tenant.MaxSettingsBytes-8) + `"}`, tenant.Settings(`{"a":"` + strings.Repeat("x", tenant.MaxSettingsBytes-8) + `"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tn tenant.Tenant
			err := json.Unmarshal([]byte(`{"id":"acme","settings":`+tt.in+`}`), &tn)
			if tt.err {
				require.ErrorIs(t, err, tenant.ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, tn.Settings)
		})
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	tn := tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}
	plain, err := json.Marshal(&tn)
	require.NoError(t, err)
	assert.NotContains(t, string(plain), "settings", "a tenant without settings is written as before")

	tn.Settings, err = tenant.NewSettings(map[string]any{"corsOrigins": []string{"https://a.example"}})
	require.NoError(t, err)
	data, err := json.Marshal(&tn)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"settings":{"corsOrigins":["https://a.example"]}`)
	var back tenant.Tenant
	require.NoError(t, json.Unmarshal(data, &back))
	assert.True(t, back == tn, "a Tenant with settings is still a comparable value")
}

func TestSettingsValidate(t *testing.T) {
	tn := tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}
	for _, bad := range []tenant.Settings{"not json", `["a"]`, `{"a": 1}`, `{}`, tenant.Settings(`{"a":"` + strings.Repeat("x", tenant.MaxSettingsBytes) + `"}`)} {
		tn.Settings = bad
		assert.ErrorIs(t, tn.Validate(), tenant.ErrInvalid, "%.40s", bad)
	}
	tn.Settings = `{"a":1}`
	assert.NoError(t, tn.Validate())
}

func TestNewSettings(t *testing.T) {
	type cors struct {
		Origins []string `json:"origins"`
	}
	s, err := tenant.NewSettings(cors{Origins: []string{"https://a.example"}})
	require.NoError(t, err)
	assert.Equal(t, tenant.Settings(`{"origins":["https://a.example"]}`), s)
	s, err = tenant.NewSettings(json.RawMessage(`{ "a" : 1 }`))
	require.NoError(t, err)
	assert.Equal(t, tenant.Settings(`{"a":1}`), s)

	s, err = tenant.NewSettings(nil)
	require.NoError(t, err)
	assert.Empty(t, s, "nil is no settings")

	for _, bad := range []any{[]string{"a"}, "x", 1, func() {}, map[string]string{"a": strings.Repeat("x", tenant.MaxSettingsBytes)}} {
		_, err := tenant.NewSettings(bad)
		assert.ErrorIs(t, err, tenant.ErrInvalid, "%T", bad)
	}
}

func TestSetting(t *testing.T) {
	tn := &tenant.Tenant{Settings: `{"corsOrigins":["https://a.example"],"maxTools":3,"off":null}`}
	origins, ok, err := tenant.Setting[[]string](tn, "corsOrigins")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []string{"https://a.example"}, origins)

	n, ok, err := tenant.Setting[int](tn, "maxTools")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 3, n)

	_, ok, err = tenant.Setting[string](tn, "missing")
	require.NoError(t, err)
	assert.False(t, ok)

	_, ok, err = tenant.Setting[*string](tn, "off")
	require.NoError(t, err)
	assert.True(t, ok, "a member set to null is there")

	_, ok, err = tenant.Setting[int](tn, "corsOrigins")
	assert.Error(t, err, "a member of another type")
	assert.True(t, ok)

	_, ok, err = tenant.Setting[int](&tenant.Tenant{}, "maxTools")
	require.NoError(t, err)
	assert.False(t, ok, "no settings")
	_, ok, err = tenant.Setting[int](nil, "maxTools")
	require.NoError(t, err)
	assert.False(t, ok)

	var all struct {
		MaxTools int `json:"maxTools"`
	}
	require.NoError(t, tn.Settings.Decode(&all))
	assert.Equal(t, 3, all.MaxTools)
	require.NoError(t, tenant.Settings("").Decode(&all), "no settings decode as {}")
}

// TestSettingsRepeatedMembers: two members of one object whose names are
// equal without case are refused at any depth, since encoding/json reads
// them as one field; the same name in different objects is fine.
func TestSettingsRepeatedMembers(t *testing.T) {
	tn := tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}
	for _, bad := range []string{
		`{"a":1,"a":2}`,
		`{"corsOrigins":["https://app.acme.example"],"CORSORIGINS":["https://evil.example"]}`,
		`{"flags":{"beta":true,"Beta":false}}`,
		`{"l":[1,{"x":{"k":1,"K":2}}]}`,
		`{"ſ":1,"S":2}`,          // long s folds to s
		"{\"k\":1,\"\u212a\":2}", // Kelvin sign folds to k
		`{"a":[],"b":{},"A":0}`,
	} {
		s, err := tenant.NewSettings(json.RawMessage(bad))
		require.NoError(t, err, "decoding keeps them: %s", bad)
		tn.Settings = s
		err = tn.Validate()
		assert.ErrorIs(t, err, tenant.ErrInvalid, "%s", bad)
	}
	for _, good := range []string{
		`{"a":{"a":{"a":1}}}`,
		`{"l":[{"a":1},{"a":2}],"m":{"a":["a","A"]}}`,
		`{"a":"A","b":["a","A"],"c":{"x":"X"},"X":1}`,
		`{"x":[[{"a":1}],{"b":2}],"a":1}`,
	} {
		s, err := tenant.NewSettings(json.RawMessage(good))
		require.NoError(t, err)
		tn.Settings = s
		assert.NoError(t, tn.Validate(), "%s", good)
	}
}

// TestSettingAgreesWithDecode: a member stored in another case than the
// one a host asks for is read by Setting as Decode reads it into a struct
// field, so two ways of reading the same settings never disagree.
func TestSettingAgreesWithDecode(t *testing.T) {
	s, err := tenant.NewSettings(json.RawMessage(`{"CorsOrigins":["https://a.example"],"beta":true}`))
	require.NoError(t, err)
	tt := &tenant.Tenant{Settings: s}
	var v struct {
		CorsOrigins []string `json:"corsOrigins"`
		Beta        bool     `json:"BETA"`
	}
	require.NoError(t, s.Decode(&v))
	origins, ok, err := tenant.Setting[[]string](tt, "corsOrigins")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, v.CorsOrigins, origins)
	beta, ok, err := tenant.Setting[bool](tt, "BETA")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, v.Beta, beta)
	_, ok, err = tenant.Setting[bool](tt, "gamma")
	require.NoError(t, err)
	assert.False(t, ok)
}
