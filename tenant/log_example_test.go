package tenant_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/seedmcp/tenancy/tenant"
)

// Every line logged with the context of a tenant's request carries the
// tenant's ID, whichever code writes it.
func ExampleNewLogHandler() {
	text := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{} // for a stable output
			}
			return a
		},
	})
	logger := slog.New(tenant.NewLogHandler(text))

	// What the tenant middleware does for each request it lets through.
	ctx := tenant.NewContext(context.Background(), &tenant.Tenant{ID: "acme"})

	logger.InfoContext(ctx, "tool called", "tool", "whoami")
	logger.With("session", "s1").WarnContext(ctx, "session idle")
	logger.InfoContext(context.Background(), "outside any request")
	// Output:
	// level=INFO msg="tool called" tool=whoami tenant.id=acme
	// level=WARN msg="session idle" session=s1 tenant.id=acme
	// level=INFO msg="outside any request"
}
