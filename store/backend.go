package store

// Backend is a whole store: the tenant registry and, in each tenant's
// namespace, its clients, sessions, OAuth grants, usage counts, audit trail
// and admin keys, with the rate limiter's budgets and the tenant events.
// It is what code that works with any store takes, such as the root
// package's Service:
//
//	svc, err := tenancy.New(tenancy.Config{Store: memstore.New(memstore.Config{}).Backend()})
//
// The stores of this module are not Backends themselves, because their
// views are their own types (a *memstore.Tenants has methods beyond
// [Tenants]); each hands one out with its Backend method, whose views are
// those same values, so a type assertion still reaches their other
// methods, and optional interfaces ([Swapper], [Directory],
// [IssuerLookup], [Marker]) are found on them as on the stores.
type Backend interface {
	// Tenants returns the tenant registry.
	Tenants() Tenants
	// Clients returns the store of each tenant's OAuth clients.
	Clients() Clients
	// Sessions returns the store of each tenant's sessions.
	Sessions() Sessions
	// Grants returns the store of each tenant's OAuth grant records.
	Grants() Grants
	// Usage returns the store of each tenant's usage counts.
	Usage() Usage
	// Audit returns the store of each tenant's audit trail.
	Audit() Audit
	// AdminKeys returns the store of each tenant's admin keys.
	AdminKeys() AdminKeys
	Limiter
	Leaser
	Events
}
