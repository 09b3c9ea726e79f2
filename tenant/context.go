package tenant

import "context"

// contextKey is unexported and a pointer, so no other package can read or
// overwrite the tenant in a context (see the context package's advice).
type contextKey struct{}

var tenantKey = &contextKey{}

// NewContext returns a copy of ctx that carries t. The tenant is shared, not
// copied: callers must treat a *Tenant taken from a context as read-only.
func NewContext(ctx context.Context, t *Tenant) context.Context {
	return context.WithValue(ctx, tenantKey, t)
}

// FromContext returns the tenant carried by ctx, if any.
func FromContext(ctx context.Context) (*Tenant, bool) {
	t, ok := ctx.Value(tenantKey).(*Tenant)
	return t, ok && t != nil
}

// IDFromContext returns the ID of the tenant carried by ctx, or "" and false.
func IDFromContext(ctx context.Context) (string, bool) {
	if t, ok := FromContext(ctx); ok {
		return t.ID, true
	}
	return "", false
}
