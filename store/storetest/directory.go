package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listing is what a store.Directory lists, read in full.
type listing struct {
	ids, inactive []string
	domains       map[string]string
	// issuers maps each listed store.IssuerPair to its tenant.
	issuers map[string]string
}

// pairOf is the name of t's issuer and audience in a listing.
func pairOf(t *tenant.Tenant) string { return store.IssuerPair(t.OIDC.Issuer, t.OIDC.Audience) }

func readDirectory(t *testing.T, d store.Directory) listing {
	t.Helper()
	ctx := t.Context()
	l := listing{domains: map[string]string{}, issuers: map[string]string{}}
	collect := func(into *[]string) func([]string) error {
		return func(ids []string) error {
			assert.LessOrEqual(t, len(ids), store.DirectoryBatch)
			*into = append(*into, ids...)
			return nil
		}
	}
	require.NoError(t, d.TenantIDs(ctx, collect(&l.ids)))
	require.NoError(t, d.InactiveIDs(ctx, collect(&l.inactive)))
	require.NoError(t, d.Domains(ctx, func(hosts, ids []string) error {
		require.Len(t, ids, len(hosts))
		for i, h := range hosts {
			assert.NotContains(t, l.domains, h, "a domain is listed once")
			l.domains[h] = ids[i]
		}
		return nil
	}))
	require.NoError(t, d.Issuers(ctx, func(pairs, ids []string) error {
		assert.LessOrEqual(t, len(pairs), store.DirectoryBatch)
		require.Len(t, ids, len(pairs))
		for i, p := range pairs {
			assert.NotContains(t, l.issuers, p, "a pair is listed once")
			l.issuers[p] = ids[i]
		}
		return nil
	}))
	slices.Sort(l.ids)
	slices.Sort(l.inactive)
	return l
}

func directoryOf(t *testing.T, b *Backend) store.Directory {
	return optional[store.Directory](t, b.Tenants, "Tenants")
}

// testDirectory: the lists a replica loads follow every create, update and
// delete: the IDs, the inactive IDs, the custom domains and the OIDC issuer
// and audience pairs.
func testDirectory(t *testing.T, b *Backend) {
	ctx := t.Context()
	d := directoryOf(t, b)
	assert.Equal(t, listing{domains: map[string]string{}, issuers: map[string]string{}}, readDirectory(t, d))

	acme := create(t, b, "acme", "a.example.com")
	beta := sample("beta", "b.example.com")
	beta.Status = tenant.StatusSuspended
	beta, err := b.Tenants.Create(ctx, beta)
	require.NoError(t, err)
	gamma := create(t, b, "gamma", "")
	// delta trusts no identity provider: it lists no pair.
	delta := sample("delta", "")
	delta.OIDC = tenant.OIDC{}
	_, err = b.Tenants.Create(ctx, delta)
	require.NoError(t, err)
	assert.Equal(t, listing{
		ids:      []string{"acme", "beta", "delta", "gamma"},
		inactive: []string{"beta"},
		domains:  map[string]string{"a.example.com": "acme", "b.example.com": "beta"},
		issuers:  map[string]string{pairOf(acme): "acme", pairOf(beta): "beta", pairOf(gamma): "gamma"},
	}, readDirectory(t, d))
	acmePair := pairOf(acme)

	// A second tenant that asks for a pair another trusts is refused and
	// lists nothing: the pair stays its first tenant's.
	thief := sample("thief", "")
	thief.OIDC = acme.OIDC
	_, err = b.Tenants.Create(ctx, thief)
	require.ErrorIs(t, err, store.ErrIssuerAudienceExists)
	delta.OIDC = acme.OIDC
	_, err = b.Tenants.Update(ctx, delta)
	require.ErrorIs(t, err, store.ErrIssuerAudienceExists)
	delta.OIDC = tenant.OIDC{}

	b.Advance(10 * time.Millisecond)
	acme.Status, acme.Domain = tenant.StatusSuspended, "a2.example.com"
	acme.OIDC.Audience = "mcp-acme-2"
	beta.Status = tenant.StatusActive
	gamma.Domain = "c.example.com"
	gamma.OIDC = tenant.OIDC{}
	for _, tn := range []*tenant.Tenant{acme, beta, gamma} {
		_, err := b.Tenants.Update(ctx, tn)
		require.NoError(t, err)
	}
	assert.Equal(t, listing{
		ids:      []string{"acme", "beta", "delta", "gamma"},
		inactive: []string{"acme"},
		domains:  map[string]string{"a2.example.com": "acme", "b.example.com": "beta", "c.example.com": "gamma"},
		issuers:  map[string]string{pairOf(acme): "acme", pairOf(beta): "beta"},
	}, readDirectory(t, d))

	// The pair acme gave up is free: delta takes it, and it is listed
	// as delta's.
	delta.OIDC = sample("acme", "").OIDC
	require.Equal(t, acmePair, pairOf(delta))
	_, err = b.Tenants.Update(ctx, delta)
	require.NoError(t, err)
	assert.Equal(t, "delta", readDirectory(t, d).issuers[acmePair])

	// A refused change lists nothing: neither the domain it brought nor
	// the status.
	refused := sample("acme", "d.example.com")
	refused.OIDC = acme.OIDC
	_, err = b.Tenants.Create(ctx, refused)
	require.ErrorIs(t, err, store.ErrTenantExists)

	assert.Equal(t, "acme", readDirectory(t, d).issuers[pairOf(acme)], "the refused create keeps acme's pair listed")

	_, err = b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)
	_, err = b.Tenants.Delete(ctx, "delta")
	require.NoError(t, err)
	assert.Equal(t, listing{
		ids:     []string{"beta", "gamma"},
		domains: map[string]string{"b.example.com": "beta", "c.example.com": "gamma"},
		issuers: map[string]string{pairOf(beta): "beta"},
	}, readDirectory(t, d))

	// A callback's error stops the listing and is returned.
	stop := errors.New("stop")
	for name, list := range map[string]func() error{
		"TenantIDs":   func() error { return d.TenantIDs(ctx, func([]string) error { return stop }) },
		"InactiveIDs": func() error { return d.InactiveIDs(ctx, func([]string) error { return stop }) },
		"Domains":     func() error { return d.Domains(ctx, func(_, _ []string) error { return stop }) },
		"Issuers":     func() error { return d.Issuers(ctx, func(_, _ []string) error { return stop }) },
	} {
		if name == "InactiveIDs" {
			continue // empty now: the callback is not called
		}
		assert.ErrorIs(t, list(), stop, name)
	}
}

// testDirectoryPages: lists longer than one batch come in several, each
// entry once.
func testDirectoryPages(t *testing.T, b *Backend) {
	if b.RealTime {
		t.Skip("creating a few thousand tenants one by one is slow on a real server; the paging is the same on miniredis")
	}
	d := directoryOf(t, b)
	n := store.DirectoryBatch + 7
	var want []string
	for i := range n {
		id := fmt.Sprintf("t%05d", i)
		tn := sample(id, "")
		if i%1000 == 0 {
			tn.Domain = id + ".example.com"
		}
		_, err := b.Tenants.Create(t.Context(), tn)
		require.NoError(t, err)
		want = append(want, id)
	}
	l := readDirectory(t, d)
	assert.Equal(t, want, l.ids)
	assert.Len(t, l.domains, (n+999)/1000)
	assert.Len(t, l.issuers, n, "each tenant's issuer and audience")
}

// testDirectoryRaces: concurrent changes never leave an active tenant
// listed as inactive, nor a live domain unlisted, whatever their order: a
// replica would turn either away.
func testDirectoryRaces(t *testing.T, b *Backend) {
	ctx := t.Context()
	d := directoryOf(t, b)
	create(t, b, "acme", "")
	create(t, b, "beta", "")
	const rounds = 15
	// Writers that lose too many races in a row give up with an error;
	// only the state they leave behind matters here.
	var wg sync.WaitGroup
	var made atomic.Int64
	for w := range 3 {
		wg.Go(func() {
			for i := range rounds {
				tn := sample("acme", "")
				if (i+w)%2 == 0 {
					tn.Status = tenant.StatusSuspended
				}
				if _, err := b.Tenants.Update(ctx, tn); err == nil {
					made.Add(1)
				}
			}
		})
	}
	for _, id := range []string{"acme", "beta"} {
		// acme and beta take the shared domain from each other; each
		// gives it up for its own in between.
		wg.Go(func() {
			for i := range rounds {
				tn := sample(id, id+".example.com")
				if i%2 == 0 {
					tn.Domain = "shared.example.com"
				}
				tn.Status = ""
				got, err := b.Tenants.Get(ctx, id)
				if !assert.NoError(t, err) {
					return
				}
				tn.Status = got.Status
				if _, err := b.Tenants.Update(ctx, tn); err == nil {
					made.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Positive(t, made.Load())

	final, err := b.Tenants.Get(ctx, "acme")
	require.NoError(t, err)
	l := readDirectory(t, d)
	if final.Active() {
		assert.NotContains(t, l.inactive, "acme", "an active tenant listed as inactive")
	}
	for _, host := range []string{"shared.example.com", "acme.example.com", "beta.example.com"} {
		id, err := b.Tenants.LookupDomain(ctx, host)
		if errors.Is(err, tenant.ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, id, l.domains[host], "live domain %s must be listed with its tenant (listed: %v)", host, slices.Sorted(maps.Keys(l.domains)))
	}
}
