package middleware

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// withPair gives tn the issuer and audience of its own provider.
func withPair(tn tenant.Tenant, audience string) tenant.Tenant {
	tn.OIDC = tenant.OIDC{Issuer: "https://idp.example.com", Audience: audience}
	return tn
}

// pairKey is the issuer cache's key of the pair withPair gives.
func pairKey(audience string) string { return "https://idp.example.com\x00" + audience }

func TestDirectoryIssuers(t *testing.T) {
	_, dir := newLoaded(t, DirectoryConfig{},
		withPair(activeTenant("acme"), "mcp-acme"), withPair(suspendedTenant("frozen"), "mcp-frozen"), activeTenant("beta"))
	issuers := dir.Issuers()
	for key, want := range map[string]Presence{
		pairKey("mcp-acme"):                         Exists,
		pairKey("mcp-frozen"):                       Inactive,
		pairKey("mcp-made-up"):                      Absent,
		pairKey("MCP-ACME"):                         Absent,
		"https://idp.example.com/\x00mcp-acme":      Absent,
		"https://idp.example.com\x00mcp-acme\x00x":  Absent,
		"https://idp.example.com" + "mcp-acme":      Absent,
		"":                                          Absent,
		"https://other.example.com\x00mcp-acme":     Absent,
		"https://idp.example.com\x00mcp-acme-extra": Absent,
	} {
		assert.Equal(t, want, issuers.Presence(key), "%q", key)
	}
	assert.Equal(t, 2, dir.Stats().Issuers)

	empty := NewDirectory(memstore.New(memstore.Config{}).Tenants(), DirectoryConfig{})
	assert.Equal(t, MayExist, empty.Issuers().Presence(pairKey("mcp-acme")), "not loaded: no opinion")
}

// TestDirectoryIssuersFollowEventsAndReads drives the directory through a
// tenant cache: a pair is known once the read its tenant's event starts
// has come back, follows its tenant's status, moves with an update and
// goes with a delete.
func TestDirectoryIssuersFollowEventsAndReads(t *testing.T) {
	ms, dir := newLoaded(t, DirectoryConfig{}, withPair(activeTenant("acme"), "mcp-acme"))
	ctx := context.Background()
	c := NewCache(ms.Tenants(), CacheConfig{Known: dir})
	issuers := dir.Issuers()
	change := func(tn tenant.Tenant, typ store.EventType) {
		t.Helper()
		var err error
		if typ == store.EventCreated {
			_, err = ms.Tenants().Create(ctx, &tn)
		} else {
			_, err = ms.Tenants().Update(ctx, &tn)
		}
		require.NoError(t, err)
		c.Handle(store.Event{Type: typ, TenantID: tn.ID})
		require.Eventually(t, func() bool { return dir.Stats().Unsettled == 0 }, 5*time.Second, time.Millisecond)
	}

	change(withPair(activeTenant("new"), "mcp-new"), store.EventCreated)
	assert.Equal(t, Exists, issuers.Presence(pairKey("mcp-new")))

	change(withPair(suspendedTenant("new"), "mcp-new"), store.EventUpdated)
	assert.Equal(t, Inactive, issuers.Presence(pairKey("mcp-new")))

	// acme's pair moves to new (suspended): acme gives it up for another,
	// new takes it. It is new's now, so refused as inactive.
	change(withPair(activeTenant("acme"), "mcp-acme-2"), store.EventUpdated)
	assert.Equal(t, Absent, issuers.Presence(pairKey("mcp-acme")), "given up, nobody's")
	change(withPair(suspendedTenant("new"), "mcp-acme"), store.EventUpdated)
	assert.Equal(t, Inactive, issuers.Presence(pairKey("mcp-acme")), "new's now")
	assert.Equal(t, Exists, issuers.Presence(pairKey("mcp-acme-2")))
	assert.Equal(t, Absent, issuers.Presence(pairKey("mcp-new")), "new gave up its own")

	_, err := ms.Tenants().Delete(ctx, "new")
	require.NoError(t, err)
	c.Handle(store.Event{Type: store.EventDeleted, TenantID: "new"})
	assert.Equal(t, Absent, issuers.Presence(pairKey("mcp-acme")))
	assert.Equal(t, Exists, issuers.Presence(pairKey("mcp-acme-2")))
}

// TestDirectoryIssuersMoveInEitherOrder: a pair that moves from one tenant
// to another is the new tenant's whichever of the two reads comes back
// first, and is never refused meanwhile: while the tenant taking it is
// unsettled, the pair is read rather than ruled out.
func TestDirectoryIssuersMoveInEitherOrder(t *testing.T) {
	a, b := withPair(activeTenant("a"), "mcp-shared"), withPair(activeTenant("b"), "mcp-b")
	for _, aFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("giver read first %v", aFirst), func(t *testing.T) {
			_, dir := newLoaded(t, DirectoryConfig{}, a, b)
			issuers := dir.Issuers()
			require.Equal(t, Exists, issuers.Presence(pairKey("mcp-shared")))
			// a gives the pair up, b takes it; both events come first.
			dir.apply(store.Event{Type: store.EventUpdated, TenantID: "a"})
			dir.apply(store.Event{Type: store.EventUpdated, TenantID: "b"})
			gave, took := withPair(activeTenant("a"), "mcp-a"), withPair(suspendedTenant("b"), "mcp-shared")
			if aFirst {
				dir.learn("a", &gave)
				assert.Equal(t, MayExist, issuers.Presence(pairKey("mcp-shared")), "b is unsettled: read, not refused")
				dir.learn("b", &took)
			} else {
				dir.learn("b", &took)
				dir.learn("a", &gave)
			}
			assert.Equal(t, Inactive, issuers.Presence(pairKey("mcp-shared")), "b's (suspended)")
			assert.Equal(t, Exists, issuers.Presence(pairKey("mcp-a")))
			assert.Equal(t, Absent, issuers.Presence(pairKey("mcp-b")))
			assert.Equal(t, 2, dir.Stats().Issuers)
		})
	}
}

// TestDirectoryUnsettledIssuers: between a created event and the read that
// tells the tenant's pair, an unknown pair is read rather than refused,
// so that a tenant just created is served in token mode.
func TestDirectoryUnsettledIssuers(t *testing.T) {
	_, dir := newLoaded(t, DirectoryConfig{})
	dir.apply(store.Event{Type: store.EventCreated, TenantID: "new"})
	assert.Equal(t, MayExist, dir.Issuers().Presence(pairKey("mcp-new")))
	fresh := withPair(activeTenant("new"), "mcp-new")
	dir.learn("new", &fresh)
	assert.Equal(t, Exists, dir.Issuers().Presence(pairKey("mcp-new")))
	assert.Equal(t, Absent, dir.Issuers().Presence(pairKey("mcp-made-up")))
}

// TestDirectoryIssuerFilter: above MaxExact pairs, the pairs go into a
// filter that never rules out a real one and rarely keeps a made-up one.
func TestDirectoryIssuerFilter(t *testing.T) {
	const n = 3000
	var tenants []tenant.Tenant
	for i := range n {
		tenants = append(tenants, withPair(activeTenant(fmt.Sprintf("t%d", i)), fmt.Sprintf("mcp-%d", i)))
	}
	_, dir := newLoaded(t, DirectoryConfig{MaxExact: 1000}, tenants...)
	st := dir.Stats()
	assert.Equal(t, n, st.Issuers)
	issuers := dir.Issuers()
	for i := range n {
		require.Equal(t, MayExist, issuers.Presence(pairKey(fmt.Sprintf("mcp-%d", i))), "a real pair is never ruled out")
	}
	wrong := 0
	for i := range 100_000 {
		if issuers.Presence(pairKey(fmt.Sprintf("made-up-%d", i))) != Absent {
			wrong++
		}
	}
	assert.LessOrEqual(t, wrong, 5, "false positives among 100,000 made-up pairs")

	// A tenant named by an event and not read yet: an unknown pair may be
	// its own, so it is read.
	dir.apply(store.Event{Type: store.EventCreated, TenantID: "new"})
	assert.Equal(t, MayExist, issuers.Presence(pairKey("mcp-new")))
	fresh := withPair(activeTenant("new"), "mcp-new")
	dir.learn("new", &fresh)
	assert.Equal(t, MayExist, issuers.Presence(pairKey("mcp-new")), "in the filter now")
}
