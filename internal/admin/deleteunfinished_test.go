package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store/redisstore"
)

// redisWorld is the admin API over redisstore on a miniredis, whose
// commands go through hook, and a client of that miniredis.
func redisWorld(t *testing.T, hook redis.Hook) (*world, *redis.Client) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(hook)
	st := redisstore.New(rdb, redisstore.Config{})
	return &world{fixture: newFixture(t, func(c *Config) {
		c.Tenants, c.Keys = st.Tenants(), st.AdminKeys()
	})}, rdb
}

// failUnlink fails the store's UNLINKs while armed, as a Redis that drops
// the connection in the middle of a tenant's sweep.
type failUnlink struct{ armed atomic.Bool }

func (h *failUnlink) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failUnlink) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "unlink" && h.armed.Load() {
			return errors.New("connection reset by peer")
		}
		return next(ctx, cmd)
	}
}

func (h *failUnlink) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestCreateAfterUnfinishedDelete: a DELETE that failed midway (503) left
// the tenant's data, its admin keys among them. A POST of the same ID is
// 409 and says to delete again, instead of giving the new tenant the old
// one's data; once a DELETE finished, the POST succeeds and the old key
// opens nothing.
func TestCreateAfterUnfinishedDelete(t *testing.T) {
	hook := &failUnlink{}
	w, _ := redisWorld(t, hook)
	w.create(t, acme)
	_, oldKey := w.newKey(t, "acme")

	hook.armed.Store(true)
	rep := w.do(t, req{method: "DELETE", path: "/admin/tenants/acme"})
	hook.armed.Store(false)
	require.Equal(t, http.StatusServiceUnavailable, rep.Code, rep.Body.String())

	again := strings.Replace(acme, "seed-acme", "seed-acme-2", 1)
	rep = w.do(t, req{method: "POST", path: "/admin/tenants", body: again})
	require.Equal(t, http.StatusConflict, rep.Code, rep.Body.String())
	assertJSONHeaders(t, rep)
	assert.Equal(t, "An earlier delete of this tenant did not finish: DELETE the tenant again, then create it",
		decode[map[string]string](t, rep)["error"])

	rep = w.do(t, req{method: "DELETE", path: "/admin/tenants/acme"})
	require.Equal(t, http.StatusOK, rep.Code, rep.Body.String())
	w.create(t, again)
	assert.Equal(t, http.StatusUnauthorized, w.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(oldKey)}).Code,
		"a key of the deleted tenant opens nothing of the new one")
}
