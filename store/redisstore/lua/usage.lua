-- usage adds one writer's counts of one tenant, for one or more days, unless
-- this batch of the writer (or a later one) was applied to the tenant
-- already: a batch sent again after its answer was lost counts once.
--
-- KEYS[1]    the tenant's metadata key: without it nothing is written, so
--            that counts arriving just after a delete leave nothing behind
-- KEYS[2]    the writer's marker: the number of its last batch applied
-- KEYS[3...] one usage hash per day (same hash slot)
-- ARGV[1]    the batch's number (a uint64, in decimal)
-- ARGV[2]    the marker's lifetime in milliseconds
-- ARGV[3]    the most tool names a day
-- then, for each day in the order of KEYS: the day's expiry (unix seconds),
-- the number n of field and count pairs, and the n pairs. A tool's field is
-- "tool:<name>"; "tool:other" takes the calls of a new tool once the day
-- has its most names, and the field "tools" counts the names.
--
-- Every count is added with HINCRBY, so writers add up exactly.
--
-- Returns 1 when applied, 0 when the batch was applied already, -1 when the
-- tenant does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
	return -1
end
-- Batch numbers are uint64 in decimal without leading zeros, compared as
-- such: a Lua number (a double) does not tell neighbours above 2^53 apart.
local last = redis.call('GET', KEYS[2]) or '0'
if #ARGV[1] < #last or (#ARGV[1] == #last and ARGV[1] <= last) then
	return 0
end
local most = tonumber(ARGV[3])
local a = 4
for k = 3, #KEYS do
	local key = KEYS[k]
	local expireAt = ARGV[a]
	local n = tonumber(ARGV[a + 1])
	a = a + 2
	for _ = 1, n do
		local field, count = ARGV[a], ARGV[a + 1]
		a = a + 2
		if string.sub(field, 1, 5) == 'tool:' and field ~= 'tool:other'
			and redis.call('HEXISTS', key, field) == 0 then
			if tonumber(redis.call('HGET', key, 'tools') or '0') < most then
				redis.call('HINCRBY', key, 'tools', 1)
			else
				field = 'tool:other'
			end
		end
		redis.call('HINCRBY', key, field, count)
	end
	redis.call('EXPIREAT', key, expireAt)
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
