-- admit stores a record that counts against a limit: a client or a session.
--
-- KEYS[1]  the record key
-- KEYS[2]  the tenant's sorted set of live IDs, scored by expiry (unix ms);
--          in the record's hash slot, so the script is atomic on a cluster
-- ARGV[1]  the record's ID, the member of KEYS[2]
-- ARGV[2]  the record's value
-- ARGV[3]  the record's lifetime in milliseconds
-- ARGV[4]  the most live records the tenant may have, 0 for no limit
--
-- Returns 1 when stored, 0 when the ID is taken, -1 at the limit.
--
-- Members whose expiry has passed are dropped first, so expired records stop
-- counting even though Redis expires the record keys on its own. The time is
-- the server's, the same clock that expires the record.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now))
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
local max = tonumber(ARGV[4])
if max > 0 and redis.call('ZCARD', KEYS[2]) >= max then
	return -1
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local fresh = redis.call('EXISTS', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], string.format('%.0f', now + ttl), ARGV[1])
-- The set lives at least as long as its newest member, so an idle tenant's
-- set disappears by itself. A set without expiry that was there before (one
-- that holds a migrated record without a lifetime) stays without one.
local pttl = redis.call('PTTL', KEYS[2])
if fresh or (pttl >= 0 and pttl < ttl) then
	redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
