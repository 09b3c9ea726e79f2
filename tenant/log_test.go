package tenant

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The handler keeps every rule of the handler it wraps.
func TestLogHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return NewLogHandler(slog.NewJSONHandler(&buf, nil))
	}, func(t *testing.T) map[string]any {
		return decodeLine(t, buf.Bytes())
	})
}

// The same rules hold for records logged for a tenant, with the tenant's
// ID added at the top level.
func TestLogHandlerSlogtestWithTenant(t *testing.T) {
	var buf bytes.Buffer
	acme := NewContext(context.Background(), &Tenant{ID: "acme"})
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return contextHandler{NewLogHandler(slog.NewJSONHandler(&buf, nil)), acme}
	}, func(t *testing.T) map[string]any {
		m := decodeLine(t, buf.Bytes())
		if m[LogKey] == "acme" {
			delete(m, LogKey) // the cases do not expect it
			return m
		}
		// Under a group, the ID is inside the innermost group, which
		// holds it alone when the record has no attributes.
		if !deleteNested(m) {
			t.Errorf("no %s in %s", LogKey, buf.Bytes())
		}
		return m
	})
}

// contextHandler passes ctx to the handler it wraps in place of the
// context of each record, as a request's logger calls would.
type contextHandler struct {
	slog.Handler
	ctx context.Context
}

func (h contextHandler) Handle(_ context.Context, r slog.Record) error {
	return h.Handler.Handle(h.ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as), h.ctx}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name), h.ctx}
}

// deleteNested removes the tenant ID from the innermost group of m, and
// the groups it leaves empty.
func deleteNested(m map[string]any) bool {
	if m[LogKey] == "acme" {
		delete(m, LogKey)
		return true
	}
	for k, v := range m {
		if g, ok := v.(map[string]any); ok && deleteNested(g) {
			if len(g) == 0 {
				delete(m, k)
			}
			return true
		}
	}
	return false
}

func decodeLine(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return m
}

func TestLogHandlerAddsTenant(t *testing.T) {
	acme := NewContext(context.Background(), &Tenant{ID: "acme"})
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string // the line without time and level
	}{
		{"a tenant's request", func(l *slog.Logger) { l.InfoContext(acme, "hi", "k", 1) },
			`{"msg":"hi","k":1,"tenant.id":"acme"}`},
		{"LogAttrs", func(l *slog.Logger) { l.LogAttrs(acme, slog.LevelInfo, "hi") },
			`{"msg":"hi","tenant.id":"acme"}`},
		{"no tenant in the context", func(l *slog.Logger) { l.InfoContext(context.Background(), "hi") },
			`{"msg":"hi"}`},
		{"no context", func(l *slog.Logger) { l.Info("hi") }, // Info passes context.Background
			`{"msg":"hi"}`},
		{"a nil tenant", func(l *slog.Logger) { l.InfoContext(NewContext(context.Background(), nil), "hi") },
			`{"msg":"hi"}`},
		{"derived loggers keep it", func(l *slog.Logger) { l.With("a", 1).InfoContext(acme, "hi") },
			`{"msg":"hi","a":1,"tenant.id":"acme"}`},
		{"the record has one", func(l *slog.Logger) { l.InfoContext(acme, "hi", LogKey, "other") },
			`{"msg":"hi","tenant.id":"other"}`},
		{"the logger has one", func(l *slog.Logger) { l.With(LogKey, "other").InfoContext(acme, "hi") },
			`{"msg":"hi","tenant.id":"other"}`},
		{"inside a group", func(l *slog.Logger) { l.WithGroup("g").InfoContext(acme, "hi", "k", 1) },
			`{"msg":"hi","g":{"k":1,"tenant.id":"acme"}}`},
		{"a grouped attribute of the same name", func(l *slog.Logger) { l.WithGroup("g").With(LogKey, "x").InfoContext(acme, "hi") },
			`{"msg":"hi","g":{"tenant.id":"x","tenant.id":"acme"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTimeLevel}))))
			assert.Equal(t, tt.want, strings.TrimSpace(buf.String()))
		})
	}
}

// The level filter is the wrapped handler's.
func TestLogHandlerEnabled(t *testing.T) {
	h := NewLogHandler(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	assert.False(t, h.Enabled(context.Background(), slog.LevelInfo))
	assert.True(t, h.Enabled(context.Background(), slog.LevelWarn))
	assert.NotNil(t, NewLogHandler(nil).next, "nil writes to standard error")
}

// Adding the ID leaves the caller's record as it was, so that handlers
// that share it (a fan-out to several outputs) do not see it.
func TestLogHandlerClonesRecord(t *testing.T) {
	acme := NewContext(context.Background(), &Tenant{ID: "acme"})
	var got slog.Record
	h := NewLogHandler(recordHandler{&got})
	r := slog.NewRecord(got.Time, slog.LevelInfo, "hi", 0)
	// One at a time, so that the attributes past the first five are in a
	// slice with room to spare, which copies of r share.
	for i := range 8 {
		r.AddAttrs(slog.Int(string(rune('a'+i)), i))
	}
	require.NoError(t, h.Handle(acme, r))
	assert.Equal(t, 9, got.NumAttrs())
	assert.Equal(t, 8, r.NumAttrs())
	// The caller adds to its record after the handler: slog reports a
	// record changed through a copy as "!BUG".
	r.AddAttrs(slog.Int("i", 8))
	r.Attrs(func(a slog.Attr) bool {
		assert.NotEqual(t, "!BUG", a.Key, "the handler changed the caller's record")
		return true
	})
}

type recordHandler struct{ r *slog.Record }

func (recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	*h.r = r
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func dropTimeLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
		return slog.Attr{}
	}
	return a
}
