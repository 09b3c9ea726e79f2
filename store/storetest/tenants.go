package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testTenantCRUD(t *testing.T, b *Backend) {
	ctx := t.Context()
	_, err := b.Tenants.Get(ctx, "acme")
	requireTenantNotFound(t, err)

	in := sample("acme", "")
	in.CreatedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // the store's clock wins
	created, err := b.Tenants.Create(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "acme", created.ID)
	assert.Equal(t, in.Name, created.Name)
	assert.Equal(t, in.OIDC, created.OIDC)
	assert.Equal(t, in.Limits, created.Limits)
	assert.False(t, created.CreatedAt.IsZero())
	assert.NotEqual(t, 2000, created.CreatedAt.Year())
	assert.Equal(t, created.CreatedAt, created.UpdatedAt)

	got, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, created, got)

	b.Advance(20 * time.Millisecond)
	change := *got
	change.Name = "ACME Corporation"
	change.Status = tenant.StatusSuspended
	change.CreatedAt = time.Time{} // ignored: CreatedAt is immutable
	updated, err := b.Tenants.Update(ctx, &change)
	require.NoError(t, err)
	assert.Equal(t, "ACME Corporation", updated.Name)
	assert.Equal(t, tenant.StatusSuspended, updated.Status)
	assert.Equal(t, created.CreatedAt, updated.CreatedAt)
	assert.True(t, updated.UpdatedAt.After(created.UpdatedAt), "UpdatedAt %v not after %v", updated.UpdatedAt, created.UpdatedAt)

	got, err = b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, updated, got)

	_, err = b.Tenants.Update(ctx, sample("ghost", ""))
	requireTenantNotFound(t, err)
	_, err = b.Tenants.Get(ctx, "ghost")
	requireTenantNotFound(t, err) // a failed update must not create

	n, err := b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "a tenant without domain or data: its record and the claim of its issuer and audience")
	_, err = b.Tenants.Get(ctx, "acme")
	requireTenantNotFound(t, err)
	_, err = b.Tenants.Delete(ctx, "acme")
	requireTenantNotFound(t, err)
	page, _, err := b.Tenants.List(ctx, "", 0)
	require.NoError(t, err)
	assert.Empty(t, page)
}

// testSettings: a tenant's settings are stored and read back byte for
// byte (large numbers, escapes and non-ASCII text included), listed, and
// replaced by an update.
func testSettings(t *testing.T, b *Backend) {
	ctx := t.Context()
	in := sample("acme", "")
	in.Settings = `{"big":12345678901234567890,"corsOrigins":["https://app.acme.example"],"note":"caf\u00e9 \"x\" ünï","flags":{"beta":true}}`
	created, err := b.Tenants.Create(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, in.Settings, created.Settings)
	got, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, in.Settings, got.Settings)
	page, _, err := b.Tenants.List(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, in.Settings, page[0].Settings)

	next := *got
	next.Settings = `{"flags":{"beta":false}}`
	_, err = b.Tenants.Update(ctx, &next)
	require.NoError(t, err)
	got2, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, tenant.Settings(`{"flags":{"beta":false}}`), got2.Settings)

}

func testTenantValidation(t *testing.T, b *Backend) {
	ctx := t.Context()
	for name, edit := range map[string]func(*tenant.Tenant){
		"no name":     func(tn *tenant.Tenant) { tn.Name = "" },
		"no status":   func(tn *tenant.Tenant) { tn.Status = "" },
		"bad domain":  func(tn *tenant.Tenant) { tn.Domain = "Not A Host" },
		"bad limits":  func(tn *tenant.Tenant) { tn.Limits.MaxClients = -1 },
		"http issuer": func(tn *tenant.Tenant) { tn.OIDC.Issuer = "http://auth.example.com" },
	} {
		tn := sample("acme", "")
		edit(tn)
		_, err := b.Tenants.Create(ctx, tn)
		require.ErrorIs(t, err, tenant.ErrInvalid, name)
		_, err = b.Tenants.Get(ctx, "acme")
		requireTenantNotFound(t, err)
	}
	create(t, b, "acme", "")
	bad := sample("acme", "")
	bad.Name = ""
	_, err := b.Tenants.Update(ctx, bad)
	require.ErrorIs(t, err, tenant.ErrInvalid)
	got, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "Tenant acme", got.Name)
}

func testDuplicates(t *testing.T, b *Backend) {
	ctx := t.Context()
	create(t, b, "acme", "acme.example.com")

	requireExists := func(err, which error) {
		t.Helper()
		require.ErrorIs(t, err, which)
		require.ErrorIs(t, err, store.ErrExists)
		require.ErrorIs(t, err, tenant.ErrExists)
	}
	_, err := b.Tenants.Create(ctx, sample("acme", ""))
	requireExists(err, store.ErrTenantExists)

	// A refused ID must not keep the domain it brought.
	_, err = b.Tenants.Create(ctx, sample("acme", "new.example.com"))
	requireExists(err, store.ErrTenantExists)
	_, err = b.Tenants.LookupDomain(ctx, "new.example.com")
	requireTenantNotFound(t, err)

	// A refused domain must not create the tenant.
	_, err = b.Tenants.Create(ctx, sample("other", "acme.example.com"))
	requireExists(err, store.ErrDomainExists)
	_, err = b.Tenants.Get(ctx, "other")
	requireTenantNotFound(t, err)

	id, err := b.Tenants.LookupDomain(ctx, "acme.example.com")
	require.NoError(t, err)
	assert.Equal(t, "acme", id)
	got, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "Tenant acme", got.Name)
	assert.Equal(t, "acme.example.com", got.Domain)
}

func testDomainMoves(t *testing.T, b *Backend) {
	ctx := t.Context()
	acme := create(t, b, "acme", "a.example.com")
	create(t, b, "beta", "b.example.com")
	lookup := func(host, want string) {
		t.Helper()
		id, err := b.Tenants.LookupDomain(ctx, host)
		if want == "" {
			requireTenantNotFound(t, err)
			return
		}
		require.NoError(t, err, host)
		assert.Equal(t, want, id, host)
	}
	lookup("a.example.com", "acme")
	lookup("b.example.com", "beta")

	acme.Domain = "c.example.com"
	_, err := b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	lookup("c.example.com", "acme")
	lookup("a.example.com", "")

	acme.Domain = "b.example.com"
	_, err = b.Tenants.Update(ctx, acme)
	require.ErrorIs(t, err, store.ErrDomainExists)
	require.ErrorIs(t, err, tenant.ErrExists)
	got, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "c.example.com", got.Domain)
	lookup("b.example.com", "beta")
	lookup("c.example.com", "acme")

	acme.Domain = ""
	_, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	lookup("c.example.com", "")

	n, err := b.Tenants.Delete(ctx, "beta")
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "metadata, domain and the claim of its issuer and audience")
	lookup("b.example.com", "")

	for _, host := range []string{"", "Not A Host", "A.EXAMPLE.COM", "a.example.com.", "*", "tenant:index"} {
		lookup(host, "")
	}
}

// badIDs are refused by every method that takes a tenant ID.
var badIDs = []string{"", "ACME", "a:b", "{x}", "*", "admin", "-acme", "acme corp", strings.Repeat("a", tenant.MaxIDLength+1)}

func testInvalidTenantIDs(t *testing.T, b *Backend) {
	ctx := t.Context()
	for _, id := range badIDs {
		calls := map[string]func() error{
			"Tenants.Get":    func() error { _, err := b.Tenants.Get(ctx, id); return err },
			"Tenants.Create": func() error { _, err := b.Tenants.Create(ctx, sample(id, "")); return err },
			"Tenants.Update": func() error { _, err := b.Tenants.Update(ctx, sample(id, "")); return err },
			"Tenants.Delete": func() error { _, err := b.Tenants.Delete(ctx, id); return err },
			"Clients.Register": func() error {
				return b.Clients.Register(ctx, id, &store.Client{ClientID: "c1"}, 0)
			},
			"Clients.Get":     func() error { _, err := b.Clients.Get(ctx, id, "c1"); return err },
			"Clients.Delete":  func() error { return b.Clients.Delete(ctx, id, "c1") },
			"Sessions.Create": func() error { _, err := b.Sessions.Create(ctx, id, "s1", "u1", 0); return err },
			"Sessions.Get":    func() error { _, err := b.Sessions.Get(ctx, id, "s1"); return err },
			"Sessions.Touch":  func() error { return b.Sessions.Touch(ctx, id, "s1") },
			"Sessions.Delete": func() error { return b.Sessions.Delete(ctx, id, "s1") },
			"Limiter.Allow":   func() error { _, err := b.Limiter.Allow(ctx, id, "k", 10); return err },
		}
		if id != "" { // "" is the first page, not an ID
			calls["Tenants.List"] = func() error { _, _, err := b.Tenants.List(ctx, id, 10); return err }
		}
		for name, call := range calls {
			assert.ErrorIs(t, call(), tenant.ErrInvalidID, "%s(%q)", name, id)
		}
	}
}

func testListPagination(t *testing.T, b *Backend) {
	ctx := t.Context()
	var want []string
	for i := range 23 {
		id := fmt.Sprintf("t%02d", i)
		create(t, b, id, "")
		want = append(want, id)
	}
	create(t, b, "gone", "")
	_, err := b.Tenants.Delete(ctx, "gone")
	require.NoError(t, err)

	var got []string
	var sizes []int
	cursor := ""
	for {
		page, next, err := b.Tenants.List(ctx, cursor, 5)
		require.NoError(t, err)
		sizes = append(sizes, len(page))
		for _, tn := range page {
			got = append(got, tn.ID)
			assert.Equal(t, "Tenant "+tn.ID, tn.Name, "pages carry whole records")
		}
		if next == "" {
			break
		}
		require.Greater(t, next, cursor, "the cursor moves forward")
		cursor = next
	}
	assert.Equal(t, want, got)
	assert.Equal(t, []int{5, 5, 5, 5, 3}, sizes)

	all, next, err := b.Tenants.List(ctx, "", 0)
	require.NoError(t, err)
	assert.Len(t, all, 23, "limit 0 is the default of %d", store.DefaultListLimit)
	assert.Empty(t, next)

	page, next, err := b.Tenants.List(ctx, "t05a", 2) // a cursor need not be a tenant
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, "t06", page[0].ID)
	assert.Equal(t, "t07", next)

	page, next, err = b.Tenants.List(ctx, "t22", 5)
	require.NoError(t, err)
	assert.Empty(t, page)
	assert.Empty(t, next)
}

func testListConcurrent(t *testing.T, b *Backend) {
	ctx := t.Context()
	const n = 60
	for i := range n {
		create(t, b, fmt.Sprintf("p%03d", i), "")
	}
	// While the pages are read, tenants are added all over the key range,
	// before and after the cursor.
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			_, err := b.Tenants.Create(ctx, sample(fmt.Sprintf("p%03d-new", (i*37)%n), ""))
			assert.NoError(t, err)
		}
	})
	seen := map[string]int{}
	var order []string
	cursor := ""
	for {
		page, next, err := b.Tenants.List(ctx, cursor, 7)
		require.NoError(t, err)
		for _, tn := range page {
			seen[tn.ID]++
			order = append(order, tn.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	wg.Wait()
	for i := range n {
		id := fmt.Sprintf("p%03d", i)
		assert.Equal(t, 1, seen[id], "tenant %s listed %d times", id, seen[id])
	}
	for id, c := range seen {
		assert.Equal(t, 1, c, "tenant %s listed %d times", id, c)
	}
	assert.True(t, slices.IsSorted(order), "IDs come in order")
}

// testSwap: a conditional update is made only while the tenant is the one
// read, so a read-modify-write never loses a concurrent change.
func testSwap(t *testing.T, b *Backend) {
	sw := optional[store.Swapper](t, b.Tenants, "Tenants")
	ctx := t.Context()
	create(t, b, "acme", "")
	read, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)

	// Another writer changes the tenant after the read.
	b.Advance(10 * time.Millisecond)
	other := *read
	other.Name = "Changed elsewhere"
	_, err = b.Tenants.Update(ctx, &other)
	require.NoError(t, err)

	mine := *read
	mine.Limits.RateLimit = 5
	_, err = sw.Swap(ctx, read, &mine)
	require.ErrorIs(t, err, store.ErrConflict)
	got, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "Changed elsewhere", got.Name, "the conflicting swap changed nothing")
	assert.Equal(t, 1000, got.Limits.RateLimit)

	// Based on a fresh read, the swap goes through and keeps both changes.
	b.Advance(10 * time.Millisecond)
	mine = *got
	mine.Limits.RateLimit = 5
	swapped, err := sw.Swap(ctx, got, &mine)
	require.NoError(t, err)
	assert.Equal(t, "Changed elsewhere", swapped.Name)
	assert.Equal(t, 5, swapped.Limits.RateLimit)
	assert.True(t, swapped.UpdatedAt.After(got.UpdatedAt))

	_, err = sw.Swap(ctx, got, sample("nobody", ""))
	requireTenantNotFound(t, err)
}

// withOIDC returns sample(id, domain) trusting issuer for audience.
func withOIDC(id, domain, issuer, audience string) *tenant.Tenant {
	tn := sample(id, domain)
	tn.OIDC = tenant.OIDC{Issuer: issuer, Audience: audience}
	return tn
}

// testIssuerAudience: no two tenants trust the same OIDC issuer for the
// same audience, since each would accept the other's tokens. The pair is
// claimed like a domain: refused on create and update, released when the
// tenant moves away from it or is deleted.
func testIssuerAudience(t *testing.T, b *Backend) {
	ctx := t.Context()
	const idp, other = "https://idp.example.com", "https://other.example.com"
	requireTaken := func(err error) {
		t.Helper()
		require.ErrorIs(t, err, store.ErrIssuerAudienceExists)
		require.ErrorIs(t, err, store.ErrExists)
		require.ErrorIs(t, err, tenant.ErrExists)
	}
	acme, err := b.Tenants.Create(ctx, withOIDC("acme", "", idp, "seed"))
	require.NoError(t, err)

	// The same pair under another ID is refused, and the refused tenant
	// keeps nothing: neither its record nor the domain it brought.
	_, err = b.Tenants.Create(ctx, withOIDC("beta", "beta.example.com", idp, "seed"))
	requireTaken(err)
	_, err = b.Tenants.Get(ctx, "beta")
	requireTenantNotFound(t, err)
	_, err = b.Tenants.LookupDomain(ctx, "beta.example.com")
	requireTenantNotFound(t, err)

	// Sharing only the issuer or only the audience is fine.
	beta, err := b.Tenants.Create(ctx, withOIDC("beta", "beta.example.com", idp, "seed-beta"))
	require.NoError(t, err)
	_, err = b.Tenants.Create(ctx, withOIDC("gamma", "", other, "seed"))
	require.NoError(t, err)

	// A refused ID does not keep the pair it brought either.
	_, err = b.Tenants.Create(ctx, withOIDC("acme", "", "https://fresh.example.com", "seed"))
	require.ErrorIs(t, err, store.ErrTenantExists)
	_, err = b.Tenants.Create(ctx, withOIDC("delta", "", "https://fresh.example.com", "seed"))
	require.NoError(t, err)

	// An update to a taken pair is refused and changes nothing.
	b.Advance(10 * time.Millisecond)
	change := *beta
	change.OIDC.Audience = "seed"
	change.Name = "Beta renamed"
	_, err = b.Tenants.Update(ctx, &change)
	requireTaken(err)
	got, err := b.Tenants.Get(ctx, "beta")
	require.NoError(t, err)
	assert.Equal(t, beta, got)
	if sw, ok := b.Tenants.(store.Swapper); ok {
		_, err = sw.Swap(ctx, beta, &change)
		requireTaken(err)
	}

	// A tenant keeps its own pair through other changes.
	b.Advance(10 * time.Millisecond)
	acme.Name = "ACME renamed"
	acme, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)

	// Moving to another pair frees the old one.
	b.Advance(10 * time.Millisecond)
	acme.OIDC.Audience = "seed-acme"
	acme, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	beta, err = b.Tenants.Update(ctx, &change)
	require.NoError(t, err, "acme gave the pair up")
	assert.Equal(t, "seed", beta.OIDC.Audience)

	// Dropping the OIDC settings frees the pair too.
	b.Advance(10 * time.Millisecond)
	acme.OIDC = tenant.OIDC{}
	_, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	_, err = b.Tenants.Create(ctx, withOIDC("epsilon", "", idp, "seed-acme"))
	require.NoError(t, err)

	// A deleted tenant's pair is free again.
	_, err = b.Tenants.Create(ctx, withOIDC("zeta", "", idp, "seed"))
	requireTaken(err)
	_, err = b.Tenants.Delete(ctx, "beta")
	require.NoError(t, err)
	_, err = b.Tenants.Create(ctx, withOIDC("zeta", "", idp, "seed"))
	require.NoError(t, err)
}

// testIssuerAudienceConcurrent: of many tenants created or moved to one
// pair at once, exactly one gets it.
func testIssuerAudienceConcurrent(t *testing.T, b *Backend) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]int{}
	// race runs op for 0..n-1 at once and counts under key the calls
	// that took the pair.
	race := func(key string, op func(i int) error) {
		for i := range n {
			wg.Go(func() {
				err := op(i)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won[key]++
				} else if !assert.ErrorIs(t, err, store.ErrIssuerAudienceExists, "%s %d", key, i) {
					won["error"]++
				}
			})
		}
		wg.Wait()
	}
	race("create", func(i int) error {
		_, err := b.Tenants.Create(ctx, withOIDC(fmt.Sprintf("c%d", i), "", "https://idp.example.com", "seed"))
		return err
	})
	for i := range n {
		create(t, b, fmt.Sprintf("u%d", i), "")
	}
	race("update", func(i int) error {
		_, err := b.Tenants.Update(ctx, withOIDC(fmt.Sprintf("u%d", i), "", "https://idp.example.com", "other"))
		return err
	})
	assert.Equal(t, map[string]int{"create": 1, "update": 1}, won)
}

// testLookupIssuer: a tenant is found by the exact issuer and audience it
// trusts, whatever its status; a pair that moves or goes with its tenant is
// found no more. Skipped when the registry is not a store.IssuerLookup.
func testLookupIssuer(t *testing.T, b *Backend) {
	l := optional[store.IssuerLookup](t, b.Tenants, "Tenants")
	ctx := t.Context()
	notFound := func(issuer, audience string) {
		t.Helper()
		_, err := l.LookupIssuer(ctx, issuer, audience)
		requireTenantNotFound(t, err)
	}
	acme := create(t, b, "acme", "")
	create(t, b, "beta", "")
	id, err := l.LookupIssuer(ctx, acme.OIDC.Issuer, acme.OIDC.Audience)
	require.NoError(t, err)
	assert.Equal(t, "acme", id)
	id, err = l.LookupIssuer(ctx, "https://auth.example.com/beta", "mcp-beta")
	require.NoError(t, err)
	assert.Equal(t, "beta", id)

	notFound(acme.OIDC.Issuer, "mcp-beta")
	notFound(acme.OIDC.Issuer+"/", acme.OIDC.Audience)
	notFound(acme.OIDC.Issuer, "MCP-ACME")
	notFound("", acme.OIDC.Audience)
	notFound(acme.OIDC.Issuer, "")

	acme.Status = tenant.StatusSuspended
	acme, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	id, err = l.LookupIssuer(ctx, acme.OIDC.Issuer, acme.OIDC.Audience)
	require.NoError(t, err)
	assert.Equal(t, "acme", id, "whatever its status")

	old := acme.OIDC
	acme.OIDC.Audience = "mcp-acme-2"
	_, err = b.Tenants.Update(ctx, acme)
	require.NoError(t, err)
	notFound(old.Issuer, old.Audience)
	id, err = l.LookupIssuer(ctx, old.Issuer, "mcp-acme-2")
	require.NoError(t, err)
	assert.Equal(t, "acme", id)

	_, err = b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)
	notFound(old.Issuer, "mcp-acme-2")
}
