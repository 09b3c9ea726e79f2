package tenancy

import (
	"net/http"

	"github.com/seedmcp/tenancy/internal/admin"
)

// AdminKeyHeader is the request header that carries the admin API key.
const AdminKeyHeader = admin.KeyHeader

// AdminConfig configures [NewAdminHandler]: the tenant registry (Tenants,
// required), the operator keys (APIKey, APIKeys; with none the API answers
// every request 503), the optional stores of tenant keys, usage and audit
// trail (each enables its routes), and the hooks and rules the Service
// sets from its own Config. It is the admin implementation's own
// configuration, so that each field is defined and documented once; read
// the fields' documentation with
//
//	go doc github.com/seedmcp/tenancy/internal/admin.Config
type AdminConfig = admin.Config

// NewAdminHandler returns the admin API:
//
//	POST   /admin/tenants                       create (201)                               operators
//	GET    /admin/tenants?cursor=&limit=        list: {"tenants":[…],"next":"…"}           operators
//	GET    /admin/tenants/{id}                  read, with an ETag                          tenant keys too
//	PATCH  /admin/tenants/{id}                  JSON merge patch (RFC 7396), If-Match       tenant keys: name, oidc
//	DELETE /admin/tenants/{id}                  {"id":…,"deletedKeys":N}, If-Match          operators
//	GET    /admin/tenants/{id}/usage?from=&to=  {"tenant":…,"days":[…],"total":{…}}        tenant keys too
//	GET    /admin/tenants/{id}/audit?after=&limit=  {"tenant":…,"events":[…],"next":"…"}    tenant keys too
//	POST   /admin/tenants/{id}/keys             {"id":…,"key":…,"createdAt":…} (201)       operators
//	GET    /admin/tenants/{id}/keys             {"tenant":…,"keys":[{"id","createdAt","lastUsedAt"}]}  operators
//	DELETE /admin/tenants/{id}/keys/{keyId}     revoke                                      operators
//
// Answers never carry oidc.clientSecret: it is sealed with Keyring when
// written and answered as "clientSecretSet". A tenant whose OIDC issuer
// and audience another tenant has is 409.
//
// A tenant key gets 403 on an operators' route of its own tenant, and on
// a PATCH of any field but name and oidc; about any other tenant it gets
// exactly the 404 of a tenant that does not exist. A stale If-Match is
// 412. The usage, audit and keys routes exist when Usage, Audit and Keys
// are set.
//
// Mount it at "/admin/":
//
//	h, err := tenancy.NewAdminHandler(tenancy.AdminConfig{Tenants: tenants, APIKey: key})
//	if err != nil { … }
//	mux.Handle("/admin/", h)
//
// Every answer is JSON ({"error":"…"} for a failure) and never cached. A
// malformed tenant ID in the path is 400; unknown members in a body are 400;
// a body over 64 KiB is 413; a store that cannot be reached is 503 without
// detail (the cause goes to the log). It returns an error only when Tenants
// is nil.
func NewAdminHandler(cfg AdminConfig) (http.Handler, error) {
	h, err := admin.New(cfg)
	if err != nil {
		return nil, err // not a nil *admin.Handler in a non-nil interface
	}
	return h, nil
}
