package redisstore

import "github.com/seedmcp/tenancy/store"

// Backend returns s as a [store.Backend], for code that takes any store,
// such as the root package's Service. The views it hands out are s's own
// (a *Tenants, a *Clients, ...), and it has s's other methods too, so
// type assertions reach everything s implements.
func (s *Store) Backend() store.Backend { return backend{s} }

// backend gives a Store the view methods of store.Backend, which return
// the store interfaces rather than this package's types. It embeds the
// Store, so the Limiter, Leaser and Events methods (and the optional
// ones) are the Store's own.
type backend struct{ *Store }

var (
	_ store.Backend = backend{}
	_ store.Marker  = (*Store)(nil)
)

func (b backend) Tenants() store.Tenants     { return b.Store.Tenants() }
func (b backend) Clients() store.Clients     { return b.Store.Clients() }
func (b backend) Sessions() store.Sessions   { return b.Store.Sessions() }
func (b backend) Grants() store.Grants       { return b.Store.Grants() }
func (b backend) Usage() store.Usage         { return b.Store.Usage() }
func (b backend) Audit() store.Audit         { return b.Store.Audit() }
func (b backend) AdminKeys() store.AdminKeys { return b.Store.AdminKeys() }
