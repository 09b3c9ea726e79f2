// Package redisx holds what the module's packages that take a go-redis
// client check of it, so that each check is written once.
package redisx

import "github.com/redis/go-redis/v9"

// IsNil reports whether rdb is nil or a nil pointer to one of go-redis's
// clients, which a comparison with nil does not see: a nil *redis.Client
// in a redis.UniversalClient is not a nil interface.
func IsNil(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}
