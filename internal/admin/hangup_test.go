package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
)

// hangUp cancels a request's context once the store has run the command
// name on key: the client hangs up in the middle of a change.
type hangUp struct {
	name, key string
	cancel    context.CancelFunc
}

func (h *hangUp) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hangUp) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if args := cmd.Args(); h.cancel != nil && cmd.Name() == h.name && len(args) > 1 && args[1] == h.key {
			h.cancel()
		}
		return err
	}
}

func (h *hangUp) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestChangeOutlivesClientHangUp: a change runs to its end when its client
// hangs up midway. A DELETE cut off after the tenant's record was removed
// left its data, its admin keys among them, so that a key of the deleted
// tenant opened the admin API of a new tenant given the same ID.
func TestChangeOutlivesClientHangUp(t *testing.T) {
	// The tenant leaves the index after its record: the client hangs up
	// once it is no longer listed, before its data is swept.
	hook := &hangUp{name: "zrem", key: keys.Index}
	w, rdb := redisWorld(t, hook)
	w.create(t, acme)
	_, oldKey := w.newKey(t, "acme")

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	hook.cancel = cancel
	r := httptest.NewRequest(http.MethodDelete, "/admin/tenants/acme", nil).WithContext(ctx)
	r.Header.Set(KeyHeader, testKey)
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	hook.cancel = nil
	require.Error(t, ctx.Err(), "the client hung up during the delete")
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	left, err := rdb.Keys(context.Background(), keys.Prefix("acme")+"*").Result()
	require.NoError(t, err)
	assert.Empty(t, left, "the deleted tenant's data is gone")
	w.create(t, strings.Replace(acme, "seed-acme", "seed-acme-2", 1))
	assert.Equal(t, http.StatusUnauthorized, w.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(oldKey)}).Code,
		"a key of the deleted tenant opens nothing of the new one")
}
