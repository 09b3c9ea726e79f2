package migrate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/migrate"
)

// A deployment that kept its clients at client:<id> moves them into tenant
// "default"; a second run finds nothing left to do.
func ExampleRun() {
	m, _ := miniredis.Run()
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	rdb.Set(ctx, "client:abc", `{"client_id":"abc"}`, 720*time.Hour)
	rdb.Set(ctx, "session:s1", `{"userId":"u1"}`, 24*time.Hour)

	res, err := migrate.Run(ctx, rdb, migrate.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res)
	fmt.Println(rdb.Get(ctx, migrate.Target("default", "client:abc")).Val())

	res, _ = migrate.Run(ctx, rdb, migrate.Config{})
	fmt.Println(res)
	// Output:
	// 2 legacy keys found: moved 2, skipped 0 (already migrated or gone)
	// {"client_id":"abc"}
	// no legacy keys found: nothing to migrate, moved 0
}
