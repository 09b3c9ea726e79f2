-- adminkey stores a new admin key of a tenant, while the tenant exists and
-- has fewer than the most keys.
--
-- KEYS[1]  the tenant's metadata key
-- KEYS[2]  the tenant's hash of admin keys (same hash slot)
-- KEYS[3]  the tenant's hash of the keys' last uses (same hash slot)
-- ARGV[1]  the key ID
-- ARGV[2]  the key's record
-- ARGV[3]  the most keys a tenant may have
--
-- Returns 1 when stored, 0 when the ID is taken, -1 when the tenant does
-- not exist, -2 when the tenant has the most keys already.
if redis.call('EXISTS', KEYS[1]) == 0 then
	return -1
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
	return 0
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then
	return -2
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
