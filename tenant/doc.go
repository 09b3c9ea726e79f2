// Package tenant defines the tenant model shared by every part of tenancy:
// the [Tenant] record, the rules a tenant ID must follow, the context helpers
// that carry the current tenant through a request, and the sentinel errors
// the other packages wrap.
//
// A tenant ID is a DNS label: 1 to [MaxIDLength] bytes of a-z, 0-9 and '-',
// neither first nor last byte '-'. The rule keeps every character that has a
// meaning in Redis keys, hash tags or SCAN patterns out of an ID, so an ID can
// be put into a key without escaping. [ValidID] checks it with a byte table and
// never allocates; it runs on every request.
//
//	if err := tenant.ValidateID(id); err != nil {
//		return err // wraps tenant.ErrInvalidID
//	}
//	ctx = tenant.NewContext(ctx, t)
//	...
//	t, ok := tenant.FromContext(ctx)
//
// [LogHandler] wraps a [log/slog] handler so that every line logged with
// such a context carries the tenant's ID.
package tenant
