-- touch gives a live session its full lifetime again and records the access.
--
-- KEYS[1]  the tenant's metadata key: without it nothing is written, so
--          that a touch arriving while the tenant's delete sweeps cannot
--          bring back the session set or the owners' hash the sweep removed
--          (but for tenant default, whose key is default_metadata, defined
--          ahead of the script: single-tenant mode serves it without one)
-- KEYS[2]  the session record (same hash slot)
-- KEYS[3]  the tenant's sorted set of live session IDs (same hash slot)
-- KEYS[4]  optional: the tenant's hash of session IDs by owner (same hash
--          slot), whose lifetime follows the sessions'
-- ARGV[1]  the session ID, the member of KEYS[3]
-- ARGV[2]  the new lastAccessedAt, as a JSON string ("2026-01-05T00:00:00Z")
-- ARGV[3]  the session lifetime in milliseconds
--
-- Returns 1 when touched, 0 when there is no live session (or no tenant).
if KEYS[1] ~= default_metadata and redis.call('EXISTS', KEYS[1]) == 0 then
	return 0
end
local v = redis.call('GET', KEYS[2])
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
redis.call('SET', KEYS[2], v, 'PX', ARGV[3])
local fresh = redis.call('EXISTS', KEYS[3]) == 0
redis.call('ZADD', KEYS[3], string.format('%.0f', now + ttl), ARGV[1])
-- The set lives at least as long as its newest member (extend comes from
-- internal/lua), and the owners' hash as long as the sessions it lists.
extend(KEYS[3], fresh, ttl)
if #KEYS >= 4 then
	extend(KEYS[4], false, ttl)
end
return 1
