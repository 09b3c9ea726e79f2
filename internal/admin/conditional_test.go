package admin

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

func TestETag(t *testing.T) {
	f := newFixture(t)
	f.create(t, acme)
	get := f.do(t, req{method: "GET", path: "/admin/tenants/acme"})
	tag := get.Header().Get("ETag")
	require.Regexp(t, `^"[A-Za-z0-9_-]{24}"$`, tag, "a strong tag")
	assert.Equal(t, tag, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Header().Get("ETag"), "stable while nothing changes")

	f.clock.Advance(1)
	patch := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"New"}`, header: http.Header{"If-Match": {tag}}})
	require.Equal(t, http.StatusOK, patch.Code, patch.Body.String())
	newTag := patch.Header().Get("ETag")
	assert.NotEqual(t, tag, newTag)
	assert.Equal(t, newTag, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Header().Get("ETag"),
		"a PATCH answer's tag is the one a GET then gives")

	for _, tc := range []struct {
		name, ifMatch string
		status        int
	}{
		{"stale tag", tag, http.StatusPreconditionFailed},
		{"weak form of the current tag", "W/" + newTag, http.StatusPreconditionFailed},
		{"unquoted", newTag[1 : len(newTag)-1], http.StatusBadRequest},
		{"garbage", `"a" "b"`, http.StatusBadRequest},
		{"current tag in a list", `"x", ` + newTag, http.StatusOK},
		{"any", "*", http.StatusOK},
	} {
		f.clock.Advance(1)
		w := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"name":"` + tc.name + `"}`,
			header: http.Header{"If-Match": {tc.ifMatch}}})
		assert.Equal(t, tc.status, w.Code, tc.name+": "+w.Body.String())
		if w.Code == http.StatusOK {
			newTag = w.Header().Get("ETag")
		} else {
			assert.Empty(t, w.Header().Get("ETag"))
		}
	}
	assert.Equal(t, "any", decode[tenant.Tenant](t, f.do(t, req{method: "GET", path: "/admin/tenants/acme"})).Name,
		"refused patches changed nothing")

	w := f.do(t, req{method: "DELETE", path: "/admin/tenants/acme", header: http.Header{"If-Match": {tag}}})
	assert.Equal(t, http.StatusPreconditionFailed, w.Code)
	assert.Contains(t, w.Body.String(), "changed since it was read")
	assert.Equal(t, http.StatusOK, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Code, "a stale delete deletes nothing")
	assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "DELETE", path: "/admin/tenants/nobody", header: http.Header{"If-Match": {"*"}}}).Code)
	assert.Equal(t, http.StatusOK, f.do(t, req{method: "DELETE", path: "/admin/tenants/acme", header: http.Header{"If-Match": {newTag}}}).Code)
}

// barrierTenants holds every Get until n of them are in flight, so that
// concurrent PATCHes all read the tenant before any of them writes.
type barrierTenants struct {
	store.Tenants
	store.Swapper
	wg *sync.WaitGroup
}

func (b barrierTenants) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	t, err := b.Tenants.Get(ctx, id)
	b.wg.Done()
	b.wg.Wait()
	return t, err
}

// testIfMatchRace sends two PATCHes with the same ETag that both read the
// tenant before either writes: exactly one wins, the other gets 412, and
// the tenant holds the winner's change whole.
func testIfMatchRace(t *testing.T, tenants store.Tenants) {
	f := newFixture(t, func(c *Config) { c.Tenants = tenants })
	f.create(t, acme)
	tag := f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Header().Get("ETag")

	var wg sync.WaitGroup
	wg.Add(2)
	racing := newFixture(t, func(c *Config) {
		c.Tenants = barrierTenants{Tenants: tenants, Swapper: tenants.(store.Swapper), wg: &wg}
		c.OnChange = nil // the fixture's hook is not safe for concurrent changes
	})
	codes := make([]int, 2)
	names := []string{"First", "Second"}
	var done sync.WaitGroup
	for i := range 2 {
		done.Go(func() {
			w := racing.do(t, req{method: "PATCH", path: "/admin/tenants/acme",
				body:   `{"name":"` + names[i] + `","limits":{"rateLimit":` + []string{"1", "2"}[i] + `}}`,
				header: http.Header{"If-Match": {tag}}})
			codes[i] = w.Code
		})
	}
	done.Wait()
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, codes)
	winner := 0
	if codes[1] == http.StatusOK {
		winner = 1
	}
	got := decode[tenant.Tenant](t, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}))
	assert.Equal(t, names[winner], got.Name)
	assert.Equal(t, winner+1, got.Limits.RateLimit, "the winner's change is whole, the loser's is nowhere")
}

func TestIfMatchRaceMemstore(t *testing.T) { testIfMatchRace(t, newFixture(t).tenants) }

func TestIfMatchRaceRedis(t *testing.T) {
	testIfMatchRace(t, redisstore.New(testredis.Standalone(t), redisstore.Config{}).Tenants())
}

func TestIfMatchRaceCluster(t *testing.T) {
	testIfMatchRace(t, redisstore.New(testredis.Cluster(t), redisstore.Config{}).Tenants())
}

// TestPatchWithoutIfMatchStillRetries: without If-Match a PATCH that meets
// a concurrent change applies itself again, as before.
func TestPatchWithoutIfMatchStillRetries(t *testing.T) {
	base := newFixture(t).tenants
	f := newFixture(t, func(c *Config) { c.Tenants = base })
	f.create(t, acme)
	var wg sync.WaitGroup
	wg.Add(2)
	racing := newFixture(t, func(c *Config) {
		c.Tenants = &onceBarrier{barrierTenants: barrierTenants{Tenants: base, Swapper: base.(store.Swapper), wg: &wg}}
		c.OnChange = nil // the fixture's hook is not safe for concurrent changes
	})
	var done sync.WaitGroup
	codes := make([]int, 2)
	for i, body := range []string{`{"name":"N"}`, `{"limits":{"rateLimit":5}}`} {
		done.Go(func() { codes[i] = racing.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: body}).Code })
	}
	done.Wait()
	assert.Equal(t, []int{http.StatusOK, http.StatusOK}, codes)
	got := decode[tenant.Tenant](t, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}))
	assert.Equal(t, "N", got.Name)
	assert.Equal(t, 5, got.Limits.RateLimit, "both changes kept")
}

// onceBarrier holds only the first two Gets.
type onceBarrier struct {
	barrierTenants
	mu sync.Mutex
	n  int
}

func (o *onceBarrier) Get(ctx context.Context, id string) (*tenant.Tenant, error) {
	o.mu.Lock()
	o.n++
	first := o.n <= 2
	o.mu.Unlock()
	if first {
		return o.barrierTenants.Get(ctx, id)
	}
	return o.Tenants.Get(ctx, id)
}
