// Package admin implements the tenancy admin API: an [http.Handler] that
// creates, lists, reads, patches (RFC 7396, with ETag and If-Match) and
// deletes tenants through a store.Tenants, gives each tenant admin keys
// of its own, and serves each tenant's usage and audit trail.
//
// Every request carries a key in X-Admin-API-Key: an operator key (any of
// Config.APIKey and Config.APIKeys, compared in constant time) may do
// anything; a tenant key (made by an operator, stored as a hash) may read
// its own tenant, usage and audit trail and change the tenant's name and
// oidc, and is answered about any other tenant exactly as about a tenant
// that does not exist. Failed keys of every kind count against the
// client's address.
//
// The root package exposes it as tenancy.NewAdminHandler, with [Config] as
// tenancy.AdminConfig, so that the configuration is written and documented
// once; the handler's parts (the failure tracker, the strict JSON
// handling) stay out of the public API.
//
//	h, err := admin.New(admin.Config{Tenants: st.Tenants(), APIKey: key})
//	mux.Handle("/admin/", h)
package admin
