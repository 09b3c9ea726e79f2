package migrate

import (
	"context"
	"math"
	"strings"

	"github.com/redis/go-redis/v9"
)

// inf is the index score of a key without a TTL.
var inf = math.Inf(1)

// moveScript moves one key on a single node, atomically, so that a writer
// that updates the legacy key during the migration can never lose its
// write. The outcome codes match the outcome constants.
//
// KEYS[1] legacy key, KEYS[2] target, KEYS[3] index set (optional);
// ARGV[1] index member, ARGV[2] now in unix milliseconds.
var moveScript = redis.NewScript(`
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 then return 1 end
local outcome = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('DUMP', KEYS[1]) ~= redis.call('DUMP', KEYS[2]) then return 2 end
  redis.call('UNLINK', KEYS[1])
  pttl = redis.call('PTTL', KEYS[2])
  outcome = 1
else
  redis.call('RENAME', KEYS[1], KEYS[2])
end
if #KEYS == 3 then
  local score = '+inf'
  if pttl >= 0 then score = string.format('%.0f', tonumber(ARGV[2]) + pttl) end
  redis.call('ZADD', KEYS[3], score, ARGV[1])
end
return outcome
`)

// unlinkIfScript removes a key only while it still holds the payload that
// was copied, so a write that lands between the copy and the removal keeps
// the legacy key (and the copy is rolled back) instead of being lost. It
// touches one key, so it runs on a cluster too.
//
// KEYS[1] key; ARGV[1] expected DUMP payload. Returns 1 when removed, 0 when
// the key is gone, -1 when it holds something else.
var unlinkIfScript = redis.NewScript(`
local cur = redis.call('DUMP', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return -1 end
return redis.call('UNLINK', KEYS[1])
`)

// loadScripts loads the scripts on every node (go-redis broadcasts SCRIPT
// LOAD on a cluster), so that pipelines can use EVALSHA.
func loadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, s := range []*redis.Script{moveScript, unlinkIfScript} {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return err
		}
	}
	return nil
}

// evalAll runs the script calls queued by add in one pipeline and retries a
// call that met NOSCRIPT (a server restarted or flushed its script cache
// mid-run) with the full source.
func evalAll(ctx context.Context, rdb redis.UniversalClient, s *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		cmds[i] = s.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	for i, cmd := range cmds {
		err := cmd.Err()
		if err == nil {
			continue
		}
		if !strings.HasPrefix(err.Error(), "NOSCRIPT") {
			return cmds, err
		}
		cmds[i] = s.Eval(ctx, rdb, calls[i].keys, calls[i].args...)
		if err := cmds[i].Err(); err != nil {
			return cmds, err
		}
	}
	return cmds, nil
}

type scriptCall struct {
	keys []string
	args []any
}
