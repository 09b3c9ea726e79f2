-- remove deletes a client or session record and frees its place.
--
-- KEYS[1]  the record key
-- KEYS[2]  the tenant's sorted set of live IDs (same hash slot)
-- KEYS[3]  optional, sessions only: the tenant's hash of session IDs by
--          owner (same hash slot)
-- ARGV[1]  the record's ID, the member of KEYS[2]
--
-- Returns 1 when a live record was deleted, 0 when there was none.
if #KEYS >= 3 then
	-- The session leaves its owner's list. The owner's field is computed
	-- from the record as store.Owner.Field does: the issuer's length in
	-- bytes, a colon, the issuer and the subject.
	local v = redis.call('GET', KEYS[1])
	local ok, s = false, nil
	if v then
		ok, s = pcall(cjson.decode, v)
	end
	if ok and type(s) == 'table' and type(s['userId']) == 'string' then
		local iss = s['issuer']
		if type(iss) ~= 'string' then
			iss = ''
		end
		local field = string.len(iss) .. ':' .. iss .. s['userId']
		local list = redis.call('HGET', KEYS[3], field)
		if list then
			local ids = {}
			for id in string.gmatch(list, '%S+') do
				if id ~= ARGV[1] then
					ids[#ids + 1] = id
				end
			end
			if #ids == 0 then
				redis.call('HDEL', KEYS[3], field)
			else
				redis.call('HSET', KEYS[3], field, table.concat(ids, ' '))
			end
		end
	end
end
local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n
