package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// badKeys are refused as client IDs, session IDs and limiter keys.
var badKeys = []string{
	"", "a b", "a{b", "b}", "*", "a?", "[a", "a]", `a\b`, "tab\t", "nl\n", "nul\x00", "del\x7f", "é", strings.Repeat("k", store.MaxKeyLength+1),
}

// goodKeys are accepted: URLs (a client ID metadata document), IPv6
// addresses in limiter keys, the longest key.
var goodKeys = []string{
	"c1", "https://client.example.com/oauth/metadata.json", "ip:2001:db8::1", "a-b_c.d~e!$&'()+,;=@%", strings.Repeat("k", store.MaxKeyLength),
}

func testInvalidKeys(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	for _, key := range badKeys {
		calls := map[string]func() error{
			"Clients.Register": func() error {
				return b.Clients.Register(ctx, "acme", &store.Client{ClientID: key}, 0)
			},
			"Clients.Get":     func() error { _, err := b.Clients.Get(ctx, "acme", key); return err },
			"Clients.Delete":  func() error { return b.Clients.Delete(ctx, "acme", key) },
			"Sessions.Create": func() error { _, err := b.Sessions.Create(ctx, "acme", key, "u1", 0); return err },
			"Sessions.Get":    func() error { _, err := b.Sessions.Get(ctx, "acme", key); return err },
			"Sessions.Touch":  func() error { return b.Sessions.Touch(ctx, "acme", key) },
			"Sessions.Delete": func() error { return b.Sessions.Delete(ctx, "acme", key) },
			"Limiter.Allow":   func() error { _, err := b.Limiter.Allow(ctx, "acme", key, 10); return err },
		}
		for name, call := range calls {
			assert.ErrorIs(t, call(), store.ErrInvalidKey, "%s(%q)", name, key)
		}
	}
	assert.ErrorIs(t, b.Clients.Register(ctx, "acme", nil, 0), store.ErrInvalidKey, "nil client")

	for _, key := range goodKeys {
		require.NoError(t, b.Clients.Register(ctx, "acme", &store.Client{ClientID: key}, 0), key)
		c, err := b.Clients.Get(ctx, "acme", key)
		require.NoError(t, err, key)
		assert.Equal(t, key, c.ClientID)
		_, err = b.Sessions.Create(ctx, "acme", key, "u1", 0)
		require.NoError(t, err, key)
		require.NoError(t, b.Sessions.Touch(ctx, "acme", key), key)
		d, err := b.Limiter.Allow(ctx, "acme", key, 10)
		require.NoError(t, err, key)
		assert.True(t, d.Allowed, key)
	}
}

func testClientRoundTrip(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	in := &store.Client{
		ClientID:                "c1",
		ClientSecret:            "s3cret",
		ClientIDIssuedAt:        1767571200,
		RedirectURIs:            []string{"https://app.example.com/cb", "http://127.0.0.1:8765/cb"},
		TokenEndpointAuthMethod: "none",
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		ClientName:              "Example App",
		Scope:                   "openid mcp",
		Contacts:                []string{"ops@example.com"},
		JWKS:                    json.RawMessage(`{"keys":[]}`),
		SoftwareID:              "4NRB1-0XZABZI9E6-5SM3R",
		Extra: map[string]json.RawMessage{
			"software_statement": json.RawMessage(`"eyJhbGciOi"`),
			"x_vendor":           json.RawMessage(`{"tier":[1,2,{"a":null}]}`),
		},
	}
	require.NoError(t, b.Clients.Register(ctx, "acme", in, 0))
	got, err := b.Clients.Get(ctx, "acme", "c1")
	require.NoError(t, err)
	assert.Equal(t, in, got)
}

// testClientMemberNames checks that a client whose metadata has a member
// differing from a known one only in case is never stored: read back, such
// a member could replace the value that was validated (a redirect URI, the
// token endpoint auth method). Refused registrations take no place under
// maxClients, and extensions with other names still round-trip exactly.
func testClientMemberNames(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
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

// testWritesNeedTheTenant: a client or a session is stored only while its
// tenant exists. A write for an ID never created, or created then deleted
// (a request in flight during the delete, a replica that still holds the
// tenant), is an error matching [store.ErrTenantNotFound] and leaves
// nothing: the tenant created later under the ID finds no client and no
// session, and has every place free under its limits. Tenant default,
// which single-tenant mode serves without a record, is the exception.
func testWritesNeedTheTenant(t *testing.T, b *Backend) {
	ctx := t.Context()
	owner := store.Owner{Issuer: "https://idp.example.com", Subject: "u1"}
	for _, id := range unknownTenants(t, b.Tenants) {
		err := b.Clients.Register(ctx, id, &store.Client{ClientID: "c1"}, 10)
		require.ErrorIs(t, err, store.ErrTenantNotFound, "Clients.Register of %s", id)
		_, err = b.Sessions.Create(ctx, id, "s1", "u1", 10)
		require.ErrorIs(t, err, store.ErrTenantNotFound, "Sessions.Create of %s", id)
		_, err = b.Sessions.Admit(ctx, id, "s2", owner, store.SessionLimits{MaxSessions: 10, PerOwner: 5})
		require.ErrorIs(t, err, store.ErrTenantNotFound, "Sessions.Admit of %s", id)

		create(t, b, id, "")
		_, err = b.Clients.Get(ctx, id, "c1")
		requireRecordNotFound(t, err)
		for _, s := range []string{"s1", "s2"} {
			_, err = b.Sessions.Get(ctx, id, s)
			requireRecordNotFound(t, err)
		}
		// Nothing counts against the new tenant's limits.
		require.NoError(t, b.Clients.Register(ctx, id, &store.Client{ClientID: "c2"}, 1), id)
		_, err = b.Sessions.Admit(ctx, id, "s3", owner, store.SessionLimits{MaxSessions: 1, PerOwner: 1})
		require.NoError(t, err, id)
	}

	// Tenant default is the exception: single-tenant mode serves it from
	// its configuration, with or without a record.
	require.NoError(t, b.Clients.Register(ctx, tenant.DefaultID, &store.Client{ClientID: "c1"}, 0))
	_, err := b.Sessions.Admit(ctx, tenant.DefaultID, "s1", owner, store.SessionLimits{PerOwner: 1})
	require.NoError(t, err)
	require.NoError(t, b.Sessions.Touch(ctx, tenant.DefaultID, "s1"))
}

func testClientIsolation(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "beta")
	require.NoError(t, b.Clients.Register(ctx, "acme", &store.Client{ClientID: "c1", ClientName: "acme's"}, 0))
	require.NoError(t, b.Clients.Register(ctx, "beta", &store.Client{ClientID: "c1", ClientName: "beta's"}, 0),
		"the same client ID in another tenant is another client")
	require.NoError(t, b.Clients.Register(ctx, "acme", &store.Client{ClientID: "c2"}, 0))

	name := func(tenantID, clientID string) string {
		t.Helper()
		c, err := b.Clients.Get(ctx, tenantID, clientID)
		require.NoError(t, err, "%s/%s", tenantID, clientID)
		return c.ClientName
	}
	assert.Equal(t, "acme's", name("acme", "c1"))
	assert.Equal(t, "beta's", name("beta", "c1"))

	_, err := b.Clients.Get(ctx, "beta", "c2")
	requireRecordNotFound(t, err)
	requireRecordNotFound(t, b.Clients.Delete(ctx, "beta", "c2"))
	_, err = b.Clients.Get(ctx, "acme", "c2")
	require.NoError(t, err, "beta's delete must not reach acme's client")

	err = b.Clients.Register(ctx, "acme", &store.Client{ClientID: "c2", ClientName: "forged"}, 0)
	require.ErrorIs(t, err, store.ErrExists)
	require.NotErrorIs(t, err, tenant.ErrExists)
	assert.Empty(t, name("acme", "c2"), "a refused registration changes nothing")

	require.NoError(t, b.Clients.Delete(ctx, "acme", "c1"))
	_, err = b.Clients.Get(ctx, "acme", "c1")
	requireRecordNotFound(t, err)
	assert.Equal(t, "beta's", name("beta", "c1"))
}

func testSessionIsolation(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "beta")
	sa, err := b.Sessions.Create(ctx, "acme", "s1", "alice", 0)
	require.NoError(t, err)
	assert.Equal(t, "alice", sa.UserID)
	assert.Equal(t, "acme", sa.TenantID)
	assert.False(t, sa.CreatedAt.IsZero())
	assert.Equal(t, sa.CreatedAt, sa.LastAccessedAt)

	sb, err := b.Sessions.Create(ctx, "beta", "s1", "bob", 0)
	require.NoError(t, err, "the same session ID in another tenant is another session")
	assert.Equal(t, "beta", sb.TenantID)
	_, err = b.Sessions.Create(ctx, "acme", "s2", "alice", 0)
	require.NoError(t, err)

	got, err := b.Sessions.Get(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, sa, got)
	got, err = b.Sessions.Get(ctx, "beta", "s1")
	require.NoError(t, err)
	assert.Equal(t, "bob", got.UserID)

	_, err = b.Sessions.Get(ctx, "beta", "s2")
	requireRecordNotFound(t, err)
	requireRecordNotFound(t, b.Sessions.Touch(ctx, "beta", "s2"))
	requireRecordNotFound(t, b.Sessions.Delete(ctx, "beta", "s2"))
	_, err = b.Sessions.Get(ctx, "beta", "s2")
	requireRecordNotFound(t, err) // Touch did not create it
	_, err = b.Sessions.Get(ctx, "acme", "s2")
	require.NoError(t, err, "beta's delete must not reach acme's session")

	_, err = b.Sessions.Create(ctx, "acme", "s2", "mallory", 0)
	require.ErrorIs(t, err, store.ErrExists)
	got, err = b.Sessions.Get(ctx, "acme", "s2")
	require.NoError(t, err)
	assert.Equal(t, "alice", got.UserID, "a refused session changes nothing")

	require.NoError(t, b.Sessions.Delete(ctx, "acme", "s1"))
	_, err = b.Sessions.Get(ctx, "acme", "s1")
	requireRecordNotFound(t, err)
	_, err = b.Sessions.Get(ctx, "beta", "s1")
	require.NoError(t, err)
}

func testClientExpiry(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	ttl := b.ClientTTL
	require.NoError(t, b.Clients.Register(ctx, "acme", &store.Client{ClientID: "c1"}, 0))
	b.Advance(ttl / 2)
	_, err := b.Clients.Get(ctx, "acme", "c1")
	require.NoError(t, err, "alive at half its lifetime")
	b.Advance(ttl/2 + ttl/4)
	_, err = b.Clients.Get(ctx, "acme", "c1")
	requireRecordNotFound(t, err)
	requireRecordNotFound(t, b.Clients.Delete(ctx, "acme", "c1"))
	require.NoError(t, b.Clients.Register(ctx, "acme", &store.Client{ClientID: "c1"}, 1),
		"an expired client frees its ID and its place")
}

func testSessionSliding(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	ttl := b.SessionTTL
	step := ttl * 3 / 5
	created, err := b.Sessions.Create(ctx, "acme", "s1", "alice", 0)
	require.NoError(t, err)

	b.Advance(step)
	require.NoError(t, b.Sessions.Touch(ctx, "acme", "s1"))
	got, err := b.Sessions.Get(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, created.CreatedAt, got.CreatedAt)
	assert.Equal(t, "alice", got.UserID)
	assert.True(t, got.LastAccessedAt.After(created.LastAccessedAt), "Touch records the access")

	b.Advance(step) // 1.2 lifetimes after creation, 0.6 after the touch
	_, err = b.Sessions.Get(ctx, "acme", "s1")
	require.NoError(t, err, "Touch extended the session")

	b.Advance(step) // Get does not extend: 1.2 lifetimes after the touch
	_, err = b.Sessions.Get(ctx, "acme", "s1")
	requireRecordNotFound(t, err)
	requireRecordNotFound(t, b.Sessions.Touch(ctx, "acme", "s1"))
	_, err = b.Sessions.Create(ctx, "acme", "s1", "alice", 1)
	require.NoError(t, err, "an expired session frees its ID and its place")
}

// admitConcurrently runs n admissions at once and checks that want of them
// succeeded and the others were refused with ErrLimit; any other error
// fails the test. what names the check in the failure messages.
func admitConcurrently(t *testing.T, n, want int, what string, admit func(i int) error) {
	t.Helper()
	var okN, limitN atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			switch err := admit(i); {
			case err == nil:
				okN.Add(1)
			case errors.Is(err, store.ErrLimit):
				limitN.Add(1)
			default:
				t.Errorf("admission %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, want, int(okN.Load()), "%s: admitted", what)
	assert.Equal(t, n-want, int(limitN.Load()), "%s: refused", what)
}

// storedIDs returns those of the IDs prefix000 to prefix(n-1) that get
// finds.
func storedIDs(n int, prefix string, get func(id string) error) []string {
	var ids []string
	for i := range n {
		if id := fmt.Sprintf("%s%03d", prefix, i); get(id) == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// touchThroughExpiry lets most of the session lifetime pass twice,
// touching the sessions ids in between: they outlive the untouched ones.
func touchThroughExpiry(t *testing.T, b *Backend, tenantID string, ids []string) {
	t.Helper()
	b.Advance(b.SessionTTL * 7 / 10)
	for _, id := range ids {
		require.NoError(t, b.Sessions.Touch(t.Context(), tenantID, id))
	}
	b.Advance(b.SessionTTL * 7 / 10)
}

// getSession is a get for storedIDs: it finds the sessions of tenantID.
func getSession(ctx context.Context, b *Backend, tenantID string) func(id string) error {
	return func(id string) error {
		_, err := b.Sessions.Get(ctx, tenantID, id)
		return err
	}
}

func testClientLimit(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "beta")
	register := func(tenantID, clientID string, max int) error {
		return b.Clients.Register(ctx, tenantID, &store.Client{ClientID: clientID}, max)
	}
	admitConcurrently(t, 100, 10, "100 at once", func(i int) error {
		return register("acme", fmt.Sprintf("c%03d", i), 10)
	})

	require.ErrorIs(t, register("acme", "late", 10), store.ErrLimit)
	require.NoError(t, register("beta", "late", 10), "another tenant has its own count")

	admitted := storedIDs(100, "c", func(id string) error {
		_, err := b.Clients.Get(ctx, "acme", id)
		return err
	})
	assert.Len(t, admitted, 10, "exactly the admitted clients were stored")
	if len(admitted) > 0 {
		require.NoError(t, b.Clients.Delete(ctx, "acme", admitted[0]))
	}
	require.NoError(t, register("acme", "late", 10), "a deleted client frees its place")
	require.ErrorIs(t, register("acme", "later", 10), store.ErrLimit)
	require.NoError(t, register("acme", "unlimited", 0), "0 means no limit")

	b.Advance(b.ClientTTL + b.ClientTTL/2)
	admitConcurrently(t, 20, 10, "expired clients stop counting", func(i int) error {
		return register("acme", fmt.Sprintf("n%03d", i), 10)
	})
}

func testSessionLimit(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "beta")
	start := func(tenantID, sessionID string, max int) error {
		_, err := b.Sessions.Create(ctx, tenantID, sessionID, "u", max)
		return err
	}
	admitConcurrently(t, 100, 10, "100 at once", func(i int) error {
		return start("acme", fmt.Sprintf("s%03d", i), 10)
	})

	require.ErrorIs(t, start("acme", "late", 10), store.ErrLimit)
	require.NoError(t, start("beta", "late", 10), "another tenant has its own count")

	live := storedIDs(100, "s", getSession(ctx, b, "acme"))
	require.Len(t, live, 10, "exactly the admitted sessions were stored")
	require.NoError(t, b.Sessions.Delete(ctx, "acme", live[0]))
	require.NoError(t, start("acme", "late", 10), "a deleted session frees its place")
	require.ErrorIs(t, start("acme", "later", 10), store.ErrLimit)

	// Touched sessions keep counting after the untouched ones expired.
	touchThroughExpiry(t, b, "acme", live[1:4])
	admitConcurrently(t, 20, 7, "expired sessions stop counting, touched ones still count", func(i int) error {
		return start("acme", fmt.Sprintf("n%03d", i), 10)
	})
}

func testSessionOwners(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	alice := store.Owner{Issuer: "https://idp.acme.example", Subject: "alice"}
	s, err := b.Sessions.Admit(ctx, "acme", "s1", alice, store.SessionLimits{})
	require.NoError(t, err)
	assert.Equal(t, "alice", s.UserID)
	assert.Equal(t, alice.Issuer, s.Issuer)
	got, err := b.Sessions.Get(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, s, got)
	assert.Equal(t, alice, store.OwnerOf(got))
	require.NoError(t, b.Sessions.Touch(ctx, "acme", "s1"))
	got, err = b.Sessions.Get(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, alice, store.OwnerOf(got), "Touch keeps the owner")

	s, err = b.Sessions.Create(ctx, "acme", "s2", "bob", 0)
	require.NoError(t, err)
	assert.Equal(t, store.Owner{Subject: "bob"}, store.OwnerOf(s), "Create records a subject without issuer")

	_, err = b.Sessions.Admit(ctx, "acme", "s1", store.Owner{Subject: "mallory"}, store.SessionLimits{PerOwner: 5})
	require.ErrorIs(t, err, store.ErrExists)
	got, err = b.Sessions.Get(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, alice, store.OwnerOf(got), "a refused session changes nothing")

	// Owner fields cannot be confused by moving bytes between issuer and
	// subject.
	assert.NotEqual(t, store.Owner{Issuer: "a", Subject: "bc"}.Field(), store.Owner{Issuer: "ab", Subject: "c"}.Field())
	assert.NotEqual(t, store.Owner{}.Field(), store.Owner{Subject: "0:"}.Field())
}

func testSessionOwnerLimit(t *testing.T, b *Backend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "beta")
	alice := store.Owner{Issuer: "https://idp.acme.example", Subject: "alice"}
	admit := func(tenantID, id string, o store.Owner, max, perOwner int) error {
		_, err := b.Sessions.Admit(ctx, tenantID, id, o, store.SessionLimits{MaxSessions: max, PerOwner: perOwner})
		return err
	}
	admitConcurrently(t, 50, 16, "50 at once", func(i int) error {
		return admit("acme", fmt.Sprintf("a%03d", i), alice, 0, 16)
	})
	err := admit("acme", "late", alice, 0, 16)
	require.ErrorIs(t, err, store.ErrOwnerLimit)
	require.ErrorIs(t, err, store.ErrLimit, "an owner's limit is a limit")

	// The same subject from another issuer, anonymous callers, and the
	// same owner in another tenant each have their own count.
	require.NoError(t, admit("acme", "other-issuer", store.Owner{Issuer: "https://other.example", Subject: "alice"}, 0, 16))
	require.NoError(t, admit("acme", "anonymous", store.Owner{}, 0, 16))
	require.NoError(t, admit("beta", "late", alice, 0, 16))

	live := storedIDs(50, "a", getSession(ctx, b, "acme"))
	require.Len(t, live, 16, "exactly the admitted sessions were stored")
	require.NoError(t, b.Sessions.Delete(ctx, "acme", live[0]))
	require.NoError(t, admit("acme", "late", alice, 0, 16), "a deleted session frees its owner's place")
	require.ErrorIs(t, admit("acme", "later", alice, 0, 16), store.ErrOwnerLimit)

	// The tenant's limit still bounds the tenant: it holds 18 sessions.
	err = admit("acme", "bob1", store.Owner{Subject: "bob"}, 18, 16)
	require.ErrorIs(t, err, store.ErrLimit)
	require.NotErrorIs(t, err, store.ErrOwnerLimit)
	require.NoError(t, admit("acme", "bob1", store.Owner{Subject: "bob"}, 19, 16))

	// Touched sessions keep counting after the untouched ones expired.
	touchThroughExpiry(t, b, "acme", live[1:4])
	admitConcurrently(t, 20, 13, "expired sessions stop counting, touched ones still count", func(i int) error {
		return admit("acme", fmt.Sprintf("n%03d", i), alice, 0, 16)
	})
}
