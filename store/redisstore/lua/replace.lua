-- replace writes a tenant's record only if it still holds what the caller
-- read, so that two concurrent updates never lose one another's changes
-- (the loser reads again and retries).
--
-- KEYS[1]  the tenant's metadata key
-- ARGV[1]  the value the caller read
-- ARGV[2]  the new value
--
-- Returns 1 when replaced, 0 when the record changed meanwhile, -1 when it
-- is gone.
local v = redis.call('GET', KEYS[1])
if not v then
	return -1
end
if v ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
