package redisstore

import (
	"fmt"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// TenantKey returns the Redis key of the host application's own data
// named name, in the namespace of the tenant tenantID:
//
//	key, err := redisstore.TenantKey("acme", "cors:origins") // "tenant:{acme}:app:cors:origins"
//	err = rdb.Set(ctx, key, origins, 0).Err()
//
// The key carries the tenant's hash tag, so on a Redis Cluster it lives in
// the tenant's slot (a script or MULTI over it and the tenant's other keys
// works), and a tenant's cascade delete removes it with the rest of the
// tenant's data, counted in the keys deleted. The "app:" segment keeps the
// host's names apart from the library's own keys, which no name can reach.
//
// tenantID must pass [tenant.ValidateID] and name [store.ValidKey] (1 to
// 256 bytes of printable ASCII without space and without {}*?[]\; ':' is
// allowed, to structure names); otherwise the error wraps
// [tenant.ErrInvalidID] or [store.ErrInvalidKey]. Both usually come from
// requests, and the checks are what keeps one tenant's key out of another's
// namespace and out of SCAN patterns.
func TenantKey(tenantID, name string) (string, error) {
	if err := tenant.ValidateID(tenantID); err != nil {
		return "", fmt.Errorf("redisstore: %w", err)
	}
	if err := store.ValidKey(name); err != nil {
		return "", fmt.Errorf("redisstore: key name: %w", err)
	}
	return keys.App(tenantID, name), nil
}
