-- remove deletes a client or session record and frees its place.
--
-- KEYS[1]  the record key
-- KEYS[2]  the tenant's sorted set of live IDs (same hash slot)
-- ARGV[1]  the record's ID, the member of KEYS[2]
--
-- Returns 1 when a live record was deleted, 0 when there was none.
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n
