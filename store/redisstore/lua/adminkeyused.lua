-- adminkeyused records the last use of an admin key that still exists, so
-- that a use noted while the key is revoked, or while its tenant's delete
-- sweeps, does not leave a stray entry.
--
-- KEYS[1]  the tenant's metadata key: without it nothing is written
-- KEYS[2]  the tenant's hash of admin keys (same hash slot)
-- KEYS[3]  the tenant's hash of the keys' last uses (same hash slot)
-- ARGV[1]  the key ID
-- ARGV[2]  the time of the use, unix milliseconds
--
-- Returns 1 when recorded, 0 when the key or the tenant does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 0
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
	return 0
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1
