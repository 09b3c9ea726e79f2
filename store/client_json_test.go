package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientJSONRefusesCaseFoldedMembers is the regression test of
// redirect URIs replaced after validation: a registration with both
// "redirect_uris" and "Redirect_Uris" was checked with one and, once
// stored and read back, used with the other.
func TestClientJSONRefusesCaseFoldedMembers(t *testing.T) {
	tests := []struct{ name, body, member string }{
		{"capitalised after", `{"redirect_uris":["https://good.example/cb"],"Redirect_Uris":["http://evil.example/steal"]}`, "Redirect_Uris"},
		{"capitalised before", `{"Redirect_Uris":["http://evil.example/steal"],"redirect_uris":["https://good.example/cb"]}`, "Redirect_Uris"},
		{"alone", `{"REDIRECT_URIS":["http://evil.example/steal"]}`, "REDIRECT_URIS"},
		{"auth method", `{"redirect_uris":["https://good.example/cb"],"token_endpoint_auth_method":"none","TOKEN_ENDPOINT_AUTH_METHOD":"client_secret_basic"}`, "TOKEN_ENDPOINT_AUTH_METHOD"},
		{"client id", `{"client_id":"c1","Client_Id":"c2"}`, "Client_Id"},
		{"escaped", `{"redirect_uris":["https://good.example/cb"],"Redirect\u005fUris":["http://evil.example/steal"]}`, "Redirect_Uris"},
		// encoding/json folds like bytes.EqualFold: the long s (U+017F)
		// matches 's' and the Kelvin sign (U+212A) matches 'k'.
		{"long s", `{"redirect_uri\u017f":["http://evil.example/steal"]}`, "redirect_uri\u017f"},
		{"Kelvin sign", `{"jw\u212as_uri":"http://evil.example/jwks"}`, "jw\u212as_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Client
			err := json.Unmarshal([]byte(tt.body), &c)
			require.ErrorIs(t, err, ErrClientMetadata)
			assert.Contains(t, err.Error(), tt.member)
		})
	}
}

// TestClientJSONStoredRecordIsExact decodes records as the stores held
// them before member names were exact: the case-folded member came after
// the known one and won. Such a record is refused, never decoded with the
// other value.
func TestClientJSONStoredRecordIsExact(t *testing.T) {
	for _, record := range []string{
		`{"client_id":"c1","redirect_uris":["https://good.example/cb"],"Redirect_Uris":["http://evil.example/steal"]}`,
		`{"client_id":"c1","token_endpoint_auth_method":"none","Token_Endpoint_Auth_Method":"client_secret_post"}`,
	} {
		var c Client
		err := json.Unmarshal([]byte(record), &c)
		require.ErrorIs(t, err, ErrClientMetadata, record)
	}
}

func TestClientJSONMarshalRefusesCaseFoldedExtra(t *testing.T) {
	c := Client{ClientID: "c1", RedirectURIs: []string{"https://good.example/cb"}, Extra: map[string]json.RawMessage{
		"Redirect_Uris": json.RawMessage(`["http://evil.example/steal"]`),
	}}
	_, err := json.Marshal(c)
	require.ErrorIs(t, err, ErrClientMetadata)
	_, err = json.Marshal(&c)
	require.ErrorIs(t, err, ErrClientMetadata)
}

// TestClientJSONLookalikesStayExtra: names that are not a known name in
// another case are extensions like any other.
func TestClientJSONLookalikesStayExtra(t *testing.T) {
	in := `{"client_id":"c1","redirect_uris":["https://good.example/cb"],` +
		`"redirect-uris":["http://a.example/"],"redirect_uris2":["http://b.example/"],"redirect_uri":"http://c.example/"}`
	var c Client
	require.NoError(t, json.Unmarshal([]byte(in), &c))
	assert.Equal(t, []string{"https://good.example/cb"}, c.RedirectURIs)
	assert.Len(t, c.Extra, 3)
	out, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, in, string(out))
}

// TestClientJSONSameAsStructDecoding checks that decoding member by member
// gives what encoding/json gives for the same fields when every name is
// exact: nulls, empty values, numbers, raw JWKS, repeated members (the last
// wins in both) and type errors.
func TestClientJSONSameAsStructDecoding(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`null`,
		`{"client_id":null,"jwks":null,"redirect_uris":null}`,
		`{"client_id":"c1","client_id_issued_at":1767571200,"client_secret_expires_at":0}`,
		`{"client_id":"c1","redirect_uris":[],"grant_types":["authorization_code"],"jwks":{"keys":[{"kty":"EC"}]}}`,
		`{"client_id":"a","client_id":"b","scope":"x","scope":"y"}`,
		`{"client_name":"n\u00e9","contacts":["a@example.com","b@example.com"],"software_version":"1.0"}`,
	} {
		var want clientJSON
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		var got Client
		require.NoError(t, json.Unmarshal([]byte(in), &got), in)
		assert.Equal(t, Client(want), got, in)
	}
	for _, in := range []string{
		`{"client_id":1}`,
		`{"redirect_uris":"https://a.example/cb"}`,
		`{"client_id_issued_at":"soon"}`,
		`[]`,
		`"c1"`,
		`{"client_id":"c1"`,
	} {
		var got Client
		assert.Error(t, json.Unmarshal([]byte(in), &got), in)
	}
}
