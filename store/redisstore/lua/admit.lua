-- admit stores a record that counts against a limit: a client or a session.
--
-- KEYS[1]  the tenant's metadata key: without it nothing is written, so
--          that a record arriving just after a delete leaves nothing behind
--          (but for tenant default, whose key is default_metadata, defined
--          ahead of the script: single-tenant mode serves it without one)
-- KEYS[2]  the record key (same hash slot)
-- KEYS[3]  the tenant's sorted set of live IDs, scored by expiry (unix ms);
--          in the record's hash slot, so the script is atomic on a cluster
-- KEYS[4]  optional, sessions with a per-owner limit only: the tenant's hash
--          of session IDs by owner (same hash slot)
-- ARGV[1]  the record's ID, the member of KEYS[3]
-- ARGV[2]  the record's value
-- ARGV[3]  the record's lifetime in milliseconds
-- ARGV[4]  the most live records the tenant may have, 0 for no limit
-- ARGV[5]  with KEYS[4]: the owner's field in KEYS[4]
-- ARGV[6]  with KEYS[4]: the most live sessions the owner may have (> 0)
--
-- Returns 1 when stored, 0 when the ID is taken, -1 at the tenant's limit,
-- -2 at the owner's limit, -3 when the tenant does not exist.
if KEYS[1] ~= default_metadata and redis.call('EXISTS', KEYS[1]) == 0 then
	return -3
end

-- Members whose expiry has passed are dropped first, so expired records stop
-- counting even though Redis expires the record keys on its own. The time is
-- the server's, the same clock that expires the record.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now))
if redis.call('EXISTS', KEYS[2]) == 1 then
	return 0
end
local max = tonumber(ARGV[4])
if max > 0 and redis.call('ZCARD', KEYS[3]) >= max then
	return -1
end

-- An owner's list holds the IDs of the sessions it started; the ones that
-- are no longer live (expired, deleted) are dropped whenever the list is
-- read, so a list never holds more than the owner's limit plus the sessions
-- that ended since its owner's last admission.
local function live(field)
	local ids = {}
	local v = redis.call('HGET', KEYS[4], field)
	if v then
		for id in string.gmatch(v, '%S+') do
			if redis.call('ZSCORE', KEYS[3], id) then
				ids[#ids + 1] = id
			end
		end
	end
	return ids
end
local function put(field, ids)
	if #ids == 0 then
		redis.call('HDEL', KEYS[4], field)
	else
		redis.call('HSET', KEYS[4], field, table.concat(ids, ' '))
	end
end
-- extend(key, fresh, ttl) comes from internal/lua: the sets live at least
-- as long as their newest record.

local owned
if #KEYS >= 4 then
	owned = live(ARGV[5])
	if #owned >= tonumber(ARGV[6]) then
		put(ARGV[5], owned)
		return -2
	end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
local fresh = redis.call('EXISTS', KEYS[3]) == 0
redis.call('ZADD', KEYS[3], string.format('%.0f', now + ttl), ARGV[1])
extend(KEYS[3], fresh, ttl)
if owned then
	fresh = redis.call('EXISTS', KEYS[4]) == 0
	owned[#owned + 1] = ARGV[1]
	put(ARGV[5], owned)
	-- The list of an owner who never comes back is cleaned here: each
	-- admission also prunes the list of one other owner, picked at random,
	-- which bounds the work to two lists.
	local other = redis.call('HRANDFIELD', KEYS[4])
	if other and other ~= ARGV[5] then
		put(other, live(other))
	end
	extend(KEYS[4], fresh, ttl)
end
return 1
