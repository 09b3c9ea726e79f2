// Package admin implements the tenancy admin API: an
// [http.Handler] that creates, lists, reads, patches (RFC 7396) and
// deletes tenants through a store.Tenants, behind an X-Admin-API-Key that
// is compared in constant time.
//
// The root package exposes it as tenancy.NewAdminHandler; this package
// keeps the parts a host should not depend on (the failure tracker, the
// strict JSON handling, the clock) out of the public API.
//
//	h, err := admin.New(admin.Config{Tenants: st.Tenants(), APIKey: key})
//	mux.Handle("/admin/", h)
package admin
