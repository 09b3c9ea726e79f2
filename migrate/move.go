package migrate

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// moveScript moves a batch on a single node: one atomic script per key, all
// in one pipeline.
func (r *migration) moveScript(ctx context.Context, rdb redis.UniversalClient, legacy []string) ([]outcome, error) {
	calls := make([]scriptCall, len(legacy))
	for i, k := range legacy {
		ks := []string{k, r.target(k)}
		set, member := r.index(k)
		if set != "" {
			ks = append(ks, set)
		}
		calls[i] = scriptCall{keys: ks, args: []any{member, wantType(k)}}
	}
	cmds, err := evalAll(ctx, rdb, moveScript, calls)
	out := make([]outcome, 0, len(legacy))
	for _, cmd := range cmds {
		n, cerr := cmd.Int()
		if cerr != nil {
			break
		}
		out = append(out, outcome(n))
	}
	return out, err
}

// copied is one key of a cross-slot batch on its way.
type copied struct {
	payload string
	pttl    time.Duration
	state   outcome
	// ours is set when this run wrote the target, so it may roll it back.
	ours bool
	// resumed is set when the target already held this payload: an
	// earlier run copied the key and stopped before removing it.
	resumed bool
}

// moveCrossSlot moves a batch whose legacy and target names may live on
// different nodes: DUMP and PTTL the legacy keys, RESTORE them (never with
// REPLACE, so an existing target answers BUSYKEY), add them to the index
// sets, and only then remove the legacy keys. A run stopped anywhere in
// between leaves every key either untouched or present at both names with
// the same payload, which the next run finishes as a resumed move.
func (r *migration) moveCrossSlot(ctx context.Context, rdb redis.UniversalClient, legacy []string) ([]outcome, error) {
	items, err := r.dump(ctx, rdb, legacy)
	if err != nil {
		return nil, err
	}

	// RESTORE every key that still exists.
	pipe := rdb.Pipeline()
	restores := make([]*redis.StatusCmd, len(items))
	for i, it := range items {
		if it.state != moved {
			continue // gone, or of a type the store refuses
		}
		ttl := max(it.pttl, 0) // no TTL (-1) restores without one
		if it.pttl == 0 {
			ttl = time.Millisecond // RESTORE reads 0 as "no TTL"
		}
		restores[i] = pipe.Restore(ctx, r.target(legacy[i]), ttl, it.payload)
	}
	// Exec reports the first failed command; each command is checked
	// below, because BUSYKEY is an expected answer, not a failure.
	_, _ = pipe.Exec(ctx)
	var busy []int
	for i, cmd := range restores {
		switch {
		case cmd == nil:
		case cmd.Err() == nil:
			items[i].ours = true
		case isBusy(cmd.Err()):
			busy = append(busy, i)
		default:
			return nil, cmd.Err()
		}
	}
	if err := r.compareTargets(ctx, rdb, legacy, items, busy); err != nil {
		return nil, err
	}
	if r.hooks.afterRestore != nil {
		if err := r.hooks.afterRestore(); err != nil {
			return nil, err
		}
	}
	if err := r.finish(ctx, rdb, legacy, items); err != nil {
		return nil, err
	}
	out := make([]outcome, len(items))
	for i, it := range items {
		out[i] = it.state
	}
	return out, nil
}

// dump reads the type, payload and PTTL of every legacy key. A key that no
// longer exists is skipped; one of another type than the store expects is
// refused.
func (r *migration) dump(ctx context.Context, rdb redis.UniversalClient, legacy []string) ([]copied, error) {
	pipe := rdb.Pipeline()
	types := make([]*redis.StatusCmd, len(legacy))
	dumps := make([]*redis.StringCmd, len(legacy))
	pttls := make([]*redis.DurationCmd, len(legacy))
	for i, k := range legacy {
		types[i] = pipe.Type(ctx, k)
		dumps[i] = pipe.Dump(ctx, k)
		pttls[i] = pipe.PTTL(ctx, k)
	}
	// A missing key answers nil, which Exec reports as an error; each
	// command is checked below instead.
	_, _ = pipe.Exec(ctx)
	items := make([]copied, len(legacy))
	for i := range legacy {
		payload, err := dumps[i].Result()
		pttl := pttls[i].Val()
		switch {
		case errors.Is(err, redis.Nil) || pttl == -2:
			items[i].state = skipped
		case refusedType(legacy[i], types[i]):
			// Checked before DUMP's own error: what the store refuses
			// need not be serialisable by the server at hand.
			items[i].state = refused
		case err != nil:
			return nil, err
		default:
			items[i] = copied{payload: payload, pttl: pttl, state: moved}
		}
	}
	return items, nil
}

// compareTargets decides, for the keys whose target already existed,
// whether the target is a copy left by an interrupted run (same payload:
// finish the move) or a conflict (different payload: leave both alone).
func (r *migration) compareTargets(ctx context.Context, rdb redis.UniversalClient, legacy []string, items []copied, busy []int) error {
	if len(busy) == 0 {
		return nil
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(busy))
	for j, i := range busy {
		cmds[j] = pipe.Dump(ctx, r.target(legacy[i]))
	}
	_, _ = pipe.Exec(ctx) // a vanished target answers nil; checked below
	for j, i := range busy {
		payload, err := cmds[j].Result()
		switch {
		case errors.Is(err, redis.Nil):
			// The target vanished since the RESTORE; the legacy key
			// stays for the next run.
			items[i].state = skipped
		case err != nil:
			return err
		case payload == items[i].payload:
			items[i].state = skipped
			items[i].resumed = true
		default:
			items[i].state = conflict
		}
	}
	return nil
}

// finish indexes the copied keys and then removes their legacy names. The
// order matters: a run stopped after the removal must not leave a moved
// client or session outside its index set, where no later run would find
// it.
func (r *migration) finish(ctx context.Context, rdb redis.UniversalClient, legacy []string, items []copied) error {
	var todo []int
	for i, it := range items {
		if it.state == moved || it.resumed {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	var index []scriptCall
	for _, i := range todo {
		if set, member := r.index(legacy[i]); set != "" {
			index = append(index, scriptCall{keys: []string{set}, args: []any{member, millis(items[i].pttl)}})
		}
	}
	if len(index) > 0 {
		if _, err := evalAll(ctx, rdb, indexScript, index); err != nil {
			return err
		}
	}

	calls := make([]scriptCall, len(todo))
	for j, i := range todo {
		calls[j] = scriptCall{keys: []string{legacy[i]}, args: []any{items[i].payload}}
	}
	cmds, err := evalAll(ctx, rdb, unlinkIfPayloadScript, calls)
	if err != nil {
		return err
	}
	var changed []int
	for j, i := range todo {
		switch n, _ := cmds[j].Int(); n {
		case 0:
			// The legacy key expired or another run removed it: the
			// copy stays, it is the key now.
		case -1:
			// A writer changed the legacy key after it was copied.
			// Keep the new value at the legacy name for the next run.
			items[i].state = skipped
			if items[i].ours {
				changed = append(changed, i)
			}
		}
	}
	return r.rollback(ctx, rdb, legacy, items, changed)
}

// rollback removes the copies this run made of legacy keys that changed
// under it, so that the next run copies the new value instead of seeing a
// conflict.
func (r *migration) rollback(ctx context.Context, rdb redis.UniversalClient, legacy []string, items []copied, changed []int) error {
	if len(changed) == 0 {
		return nil
	}
	calls := make([]scriptCall, len(changed))
	for j, i := range changed {
		calls[j] = scriptCall{keys: []string{r.target(legacy[i])}, args: []any{items[i].payload}}
	}
	if _, err := evalAll(ctx, rdb, unlinkIfPayloadScript, calls); err != nil {
		return err
	}
	pipe := rdb.Pipeline()
	for _, i := range changed {
		if set, member := r.index(legacy[i]); set != "" {
			pipe.ZRem(ctx, set, member)
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// classify is the dry run: it sorts a batch into would-move, already
// migrated, conflict and refused without writing anything.
func (r *migration) classify(ctx context.Context, rdb redis.UniversalClient, legacy []string) ([]outcome, error) {
	pipe := rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(legacy))
	types := make([]*redis.StatusCmd, len(legacy))
	for i, k := range legacy {
		exists[i] = pipe.Exists(ctx, r.target(k))
		types[i] = pipe.Type(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]outcome, len(legacy))
	var busy []string
	var where []int
	for i, cmd := range exists {
		if refusedType(legacy[i], types[i]) {
			out[i] = refused
			continue
		}
		if cmd.Val() == 1 {
			busy = append(busy, legacy[i])
			where = append(where, i)
		}
	}
	if len(busy) == 0 {
		return out, nil
	}
	items, err := r.dump(ctx, rdb, busy)
	if err != nil {
		return nil, err
	}
	var present []int
	for j, it := range items {
		if it.state == moved {
			present = append(present, j)
		}
	}
	if err := r.compareTargets(ctx, rdb, busy, items, present); err != nil {
		return nil, err
	}
	for j, i := range where {
		out[i] = items[j].state
	}
	return out, nil
}

// refusedType reports whether the TYPE answer of a legacy key that exists
// is not the type the store expects of its kind.
func refusedType(legacy string, typ *redis.StatusCmd) bool {
	want := wantType(legacy)
	got := typ.Val()
	return want != "" && got != "none" && got != want
}

// millis is a PTTL in milliseconds as the scripts take it: -1 for none.
func millis(pttl time.Duration) int64 {
	if pttl < 0 {
		return -1
	}
	return pttl.Milliseconds()
}

// isBusy reports a RESTORE refused because the target exists.
func isBusy(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "BUSYKEY")
}
