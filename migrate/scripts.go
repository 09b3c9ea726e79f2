package migrate

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/lua"
)

// indexLua adds a moved client or session to its tenant's sorted set,
// scored by expiry in unix milliseconds on the server's clock (the clock
// that expires the key, and the one redisstore scores with). A key without
// a TTL never expires: its score is +inf and it counts until it is deleted,
// and the set is made persistent with it. Otherwise the set lives at least
// as long as the moved key, by the rule redisstore's scripts keep too
// (internal/lua's extend).
var indexLua = lua.Extend + `
local function index(set, member, pttl)
  if pttl < 0 then
    redis.call('ZADD', set, '+inf', member)
    redis.call('PERSIST', set)
    return
  end
  local fresh = redis.call('EXISTS', set) == 0
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', set, string.format('%.0f', now + pttl), member)
  extend(set, fresh, pttl)
end
`

// moveScript moves one key on a single node, atomically, so that a writer
// that updates the legacy key during the migration can never lose its
// write. The outcome codes match the outcome constants: 0 moved, 1
// skipped (gone, or the target already holds the same payload), 2
// conflict, 3 refused (not of the type the store expects).
//
// KEYS[1] legacy key, KEYS[2] target, KEYS[3] index set (optional);
// ARGV[1] index member, ARGV[2] the type the store expects ("" for any).
var moveScript = redis.NewScript(indexLua + `
local pttl = redis.call('PTTL', KEYS[1])
if pttl == -2 then return 1 end
if ARGV[2] ~= '' and redis.call('TYPE', KEYS[1])['ok'] ~= ARGV[2] then return 3 end
local outcome = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('DUMP', KEYS[1]) ~= redis.call('DUMP', KEYS[2]) then return 2 end
  redis.call('UNLINK', KEYS[1])
  pttl = redis.call('PTTL', KEYS[2])
  outcome = 1
else
  redis.call('RENAME', KEYS[1], KEYS[2])
end
if #KEYS == 3 then index(KEYS[3], ARGV[1], pttl) end
return outcome
`)

// indexScript is indexLua for the cross-slot path, where the set lives on
// another node than the legacy key.
//
// KEYS[1] index set; ARGV[1] member; ARGV[2] the key's PTTL, -1 for none.
var indexScript = redis.NewScript(indexLua + `
index(KEYS[1], ARGV[1], tonumber(ARGV[2]))
return 1
`)

// unlinkIfPayloadScript removes a key only while it still holds the DUMP
// payload that was copied, so a write that lands between the copy and the
// removal keeps the legacy key (and the copy is rolled back) instead of
// being lost. It touches one key, so it runs on a cluster too.
//
// KEYS[1] key; ARGV[1] expected DUMP payload. Returns 1 when removed, 0 when
// the key is gone, -1 when it holds something else.
var unlinkIfPayloadScript = redis.NewScript(`
local cur = redis.call('DUMP', KEYS[1])
if not cur then return 0 end
if cur ~= ARGV[1] then return -1 end
return redis.call('UNLINK', KEYS[1])
`)

// loadScripts loads the scripts on every node (go-redis broadcasts SCRIPT
// LOAD on a cluster), so that pipelines can use EVALSHA.
func loadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, s := range []*redis.Script{moveScript, indexScript, unlinkIfPayloadScript} {
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
