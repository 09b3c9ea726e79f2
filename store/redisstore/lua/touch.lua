-- touch gives a live session its full lifetime again and records the access.
--
-- KEYS[1]  the session record
-- KEYS[2]  the tenant's sorted set of live session IDs (same hash slot)
-- KEYS[3]  optional: the tenant's hash of session IDs by owner (same hash
--          slot), whose lifetime follows the sessions'
-- ARGV[1]  the session ID, the member of KEYS[2]
-- ARGV[2]  the new lastAccessedAt, as a JSON string ("2026-01-05T00:00:00Z")
-- ARGV[3]  the session lifetime in milliseconds
--
-- Returns 1 when touched, 0 when there is no live session.
local v = redis.call('GET', KEYS[1])
if not v then
	return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
-- The store writes lastAccessedAt as the last member, so the common case is
-- a replacement at the end of the record; any other layout (a record
-- written by an older version) is decoded and encoded again.
local n
v, n = string.gsub(v, '"lastAccessedAt":"[^"]*"}$', function()
	return '"lastAccessedAt":' .. ARGV[2] .. '}'
end)
if n == 0 then
	local s = cjson.decode(v)
	s['lastAccessedAt'] = string.sub(ARGV[2], 2, -2) -- a timestamp has no escapes
	v = cjson.encode(s)
end
redis.call('SET', KEYS[1], v, 'PX', ARGV[3])
local fresh = redis.call('EXISTS', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], string.format('%.0f', now + ttl), ARGV[1])
-- The set lives at least as long as its newest member (extend comes from
-- internal/lua), and the owners' hash as long as the sessions it lists.
extend(KEYS[2], fresh, ttl)
if #KEYS >= 3 then
	extend(KEYS[3], false, ttl)
end
return 1
