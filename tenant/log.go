package tenant

import (
	"context"
	"log/slog"
	"os"
)

// LogKey is the attribute under which a [LogHandler] records the ID of the
// tenant a log line was written for.
const LogKey = "tenant.id"

// LogHandler is a [slog.Handler] that adds the ID of the tenant carried by
// a record's context ([NewContext], which the tenant middleware calls for
// every request it lets through) to the record, as [LogKey], before
// passing it on. With it as the handler of the server's loggers, every
// line written while serving a tenant's request says which tenant it was
// for, whichever package wrote it, without each call site adding it:
//
//	logger := slog.New(tenant.NewLogHandler(slog.NewJSONHandler(os.Stderr, nil)))
//	...
//	logger.InfoContext(r.Context(), "tool called", "tool", name) // {"msg":"tool called","tool":…,"tenant.id":"acme"}
//
// Only the *Context logging methods (InfoContext, LogAttrs, …) pass a
// context; a line written with Info has none and no tenant. A logger that
// already carries LogKey among its own attributes ([slog.Logger.With]) is
// left alone, as is a record that has it. The attribute joins the
// record's own attributes, so under a group opened with
// [slog.Logger.WithGroup] it is inside that group.
type LogHandler struct {
	next slog.Handler
	// keyed reports that the logger's own attributes, outside any group,
	// already hold LogKey.
	keyed bool
	// grouped reports that a group is open: attributes added later are
	// inside it, so they no longer say whether LogKey is at the top.
	grouped bool
}

var _ slog.Handler = (*LogHandler)(nil)

// NewLogHandler returns a LogHandler that passes records on to next. A nil
// next writes text lines to standard error (slog.NewTextHandler); it is
// not slog.Default's handler, which would write through the log package
// and loop once the returned handler's logger is made the default.
func NewLogHandler(next slog.Handler) *LogHandler {
	if next == nil {
		next = slog.NewTextHandler(os.Stderr, nil)
	}
	return &LogHandler{next: next}
}

// Enabled reports whether the handler it wraps handles records at level.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds the tenant's ID of ctx to r, if ctx carries a tenant and
// neither r nor the logger has one, and passes r on.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := IDFromContext(ctx); ok && !h.keyed && !hasKey(r) {
		// A record's attributes may share their storage with the
		// caller's copy of it: clone before adding.
		r = r.Clone()
		r.AddAttrs(slog.String(LogKey, id))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a LogHandler over the wrapped handler with attrs.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	keyed := h.keyed
	if !h.grouped {
		for _, a := range attrs {
			keyed = keyed || a.Key == LogKey
		}
	}
	return &LogHandler{next: h.next.WithAttrs(attrs), keyed: keyed, grouped: h.grouped}
}

// WithGroup returns a LogHandler over the wrapped handler with the group
// name opened.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &LogHandler{next: h.next.WithGroup(name), keyed: h.keyed, grouped: true}
}

// hasKey reports whether r has an attribute named LogKey.
func hasKey(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == LogKey
		return !found
	})
	return found
}
