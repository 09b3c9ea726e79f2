package tenancy

import (
	"log/slog"
	"net/http"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/internal/admin"
	"github.com/seedmcp/tenancy/keyring"
	"github.com/seedmcp/tenancy/store"
)

// AdminKeyHeader is the request header that carries the admin API key.
const AdminKeyHeader = admin.KeyHeader

// AdminConfig configures [NewAdminHandler]. Only Tenants is required.
type AdminConfig struct {
	// Tenants is the registry the API manages; with redisstore its Delete
	// removes every key of the tenant and publishes the change, so every
	// replica's caches drop the tenant. Required.
	Tenants store.Tenants
	// APIKey is an operator key: the secret a request carries in
	// X-Admin-API-Key to do anything. It is compared in constant time and
	// never logged. When neither APIKey nor APIKeys holds a key the admin
	// API is closed: every request is answered 503.
	APIKey string
	// APIKeys are further operator keys, for rotation: add the new key,
	// move the operators to it, then remove the old one. In logs and the
	// audit trail an operator key is "operator-<n>", its position counting
	// APIKey first (so "operator-1" is APIKey when it is set).
	// default: none
	APIKeys []string
	// Keys holds the tenant admin keys: with it, operators create keys
	// for a tenant (POST /admin/tenants/{id}/keys) that read the tenant,
	// its usage and its audit trail and may change its name and oidc,
	// nothing else. A key is shown once and stored as its SHA-256 only.
	// default: nil (the keys routes answer 404; only operator keys work)
	Keys store.AdminKeys
	// Usage answers GET /admin/tenants/{id}/usage.
	// default: nil (the route answers 404)
	Usage store.Usage
	// Audit receives an event for each change asked of a tenant with a
	// valid key, and answers GET /admin/tenants/{id}/audit.
	// default: nil (no trail; the route answers 404)
	Audit *audit.Trail
	// Logger receives one audit line per request and per refusal: action,
	// tenant, remote address, status and outcome; never a key or a body.
	// default: slog.Default()
	Logger *slog.Logger
	// ClientAddr returns the address that failed keys are counted
	// against: after 10 failures within a minute the address is answered
	// 429 until the minute is over. Behind reverse proxies, use the
	// ClientAddr method of a resolve.Proxies, which believes the
	// forwarding header only from the trusted proxies' addresses (New
	// wires it from Config.TrustedProxies): counted by the proxy's own
	// address, one outsider would lock out every operator. A header that
	// clients can forge (X-Forwarded-For read from any address) MUST NOT
	// be used, since it would give an attacker a fresh address for every
	// guess.
	// default: the IP of r.RemoteAddr
	ClientAddr func(r *http.Request) string
	// OnChange is called after every successful create, update and
	// delete, so that this replica can drop what it derived from the
	// tenant at once (its cached tenant, its token verifier). Other
	// replicas learn of the change through the store's events. It runs
	// on the request's goroutine and must not block.
	OnChange func(store.Event)
	// BaseDomain is the base domain of subdomain mode: a custom domain
	// equal to it or under it is refused with 400, since the subdomain
	// resolver answers those hosts itself and the domain could never
	// reach its tenant. New sets it in subdomain mode.
	// default: "" (no such rule)
	BaseDomain string
	// ProviderURL checks each OIDC URL of a tenant (issuer, jwksUri,
	// tokenUrl, authorizationUrl, revocationUrl) beyond the tenant rules:
	// a URL it refuses is a 400. New sets it to its verifier's
	// oidcx.Verifier.CheckProviderURL, so that a provider on loopback is
	// refused unless Config.OIDC.InsecureAllowLoopback is set.
	// default: nil (the tenant rules only)
	ProviderURL func(string) error
	// Keyring seals the oidc.clientSecret of a tenant's OAuth proxy
	// (its upstream client's secret), which a POST or PATCH gives in
	// clear, bound to the tenant, before the tenant is stored. The
	// secret is write-only: answers say only "clientSecretSet": true or
	// false inside oidc (for a tenant with oidc.clientId), no log line
	// or audit event carries it, a merge patch that does not name it
	// keeps it, and null removes it. A tenant written while its secret
	// is sealed with a key other than the keyring's first is sealed
	// again with the first, so that rotating keys is: put the new key
	// first, write every tenant (any PATCH), drop the old key. New sets
	// it from Config.EncryptionKeys.
	// default: nil (a body that gives oidc.clientSecret is a 400)
	Keyring *keyring.Keyring
}

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
	return admin.New(admin.Config{
		Tenants:     cfg.Tenants,
		APIKey:      cfg.APIKey,
		APIKeys:     cfg.APIKeys,
		Keys:        cfg.Keys,
		Usage:       cfg.Usage,
		Audit:       cfg.Audit,
		Logger:      cfg.Logger,
		ClientAddr:  cfg.ClientAddr,
		OnChange:    cfg.OnChange,
		BaseDomain:  cfg.BaseDomain,
		ProviderURL: cfg.ProviderURL,
		Keyring:     cfg.Keyring,
	})
}
