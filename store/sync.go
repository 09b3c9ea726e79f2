package store

import "context"

// Marker is implemented by event sources that can put a mark in their
// stream of events; both stores of this module do. Because a stream is
// delivered in order, a subscriber that receives the mark has received
// every event published before it, which is how the root package's
// Service.Sync knows that a change made a moment ago, on any replica, has
// been applied on this one.
type Marker interface {
	// Mark publishes an [EventSync] event whose Mark is mark, after every
	// event whose publishing finished before Mark was called. mark must
	// pass [ValidKey]; a subscriber tells its own marks from others' by
	// it, so it should be unique (random). A subscription that breaks
	// may lose the mark, as it may lose any event: it then delivers an
	// [EventReset] instead, after which everything before is accounted
	// for too.
	Mark(ctx context.Context, mark string) error
}
