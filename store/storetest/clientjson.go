package storetest

import (
	"encoding/json"
	"testing"

	"github.com/seedmcp/tenancy/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testClientMemberNames checks that a client whose metadata has a member
// differing from a known one only in case is never stored: read back, such
// a member could replace the value that was validated (a redirect URI, the
// token endpoint auth method). Refused registrations take no place under
// maxClients, and extensions with other names still round-trip exactly.
func testClientMemberNames(t *testing.T, b *Backend) {
	ctx := t.Context()
	good := []string{"https://good.example/cb"}
	for _, member := range []string{"Redirect_Uris", "REDIRECT_URIS", "Token_Endpoint_Auth_Method", "Client_Id", "redirect_uri\u017f"} {
		c := &store.Client{
			ClientID:                "c1",
			RedirectURIs:            good,
			TokenEndpointAuthMethod: "none",
			Extra:                   map[string]json.RawMessage{member: json.RawMessage(`"http://evil.example/steal"`)},
		}
		err := b.Clients.Register(ctx, "acme", c, 1)
		require.ErrorIs(t, err, store.ErrClientMetadata, member)
		_, err = b.Clients.Get(ctx, "acme", "c1")
		require.ErrorIs(t, err, store.ErrNotFound, "%s: nothing was stored", member)
	}

	// The place under maxClients = 1 is still free.
	c := &store.Client{
		ClientID:                "c1",
		RedirectURIs:            good,
		TokenEndpointAuthMethod: "none",
		Extra: map[string]json.RawMessage{
			"redirect-uris":      json.RawMessage(`["http://a.example/"]`),
			"redirect_uris_next": json.RawMessage(`["http://b.example/"]`),
		},
	}
	require.NoError(t, b.Clients.Register(ctx, "acme", c, 1))
	got, err := b.Clients.Get(ctx, "acme", "c1")
	require.NoError(t, err)
	assert.Equal(t, c, got)
	assert.Equal(t, good, got.RedirectURIs)
}
