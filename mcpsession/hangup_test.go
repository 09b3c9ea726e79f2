package mcpsession

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
)

// ctxSessions fails, as a Redis client does, every call made on a context
// that is done.
type ctxSessions struct{ store.Sessions }

func (c ctxSessions) Admit(ctx context.Context, tenantID, id string, o store.Owner, l store.SessionLimits) (*store.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Sessions.Admit(ctx, tenantID, id, o, l)
}

func (c ctxSessions) Get(ctx context.Context, tenantID, id string) (*store.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.Sessions.Get(ctx, tenantID, id)
}

func (c ctxSessions) Touch(ctx context.Context, tenantID, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.Sessions.Touch(ctx, tenantID, id)
}

// A client that hangs up while its request waits on the session store is
// not a failure of the store: a flood of such requests logs nothing, and
// the session an initialize opened for no one is ended.
func TestHangUpsLogNothing(t *testing.T) {
	var log bytes.Buffer
	h := newHarness(t, func(c *Config) {
		c.Sessions = ctxSessions{c.Sessions}
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
		c.TouchEvery = -1
	})
	held := h.open("acme", alice)
	_, err := h.mem.Sessions().Admit(t.Context(), "acme", "remote", alice.owner(), store.SessionLimits{})
	require.NoError(t, err)
	for range 20 {
		for _, session := range []string{"", held, "remote"} {
			body := `{}`
			if session == "" {
				body = initBody
			}
			r := h.request(http.MethodPost, "acme", alice, session, body)
			ctx, cancel := context.WithCancel(r.Context())
			cancel()
			h.serve(r.WithContext(ctx))
		}
	}
	assert.Empty(t, log.String())
	assert.Equal(t, 1, h.guard.Len(), "only the session opened before")
	assert.Len(t, h.sdk.endedSessions(), 20, "every session opened for a client gone is ended")
}
