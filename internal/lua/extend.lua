-- extend makes an index key (a tenant's sorted set of clients or sessions,
-- or its hash of session owners) live at least as long as a member that
-- expires in ttl milliseconds, so that an idle tenant's keys disappear by
-- themselves. fresh says that the caller has just created the key. A key
-- without expiry that was there before (one that holds a member without a
-- lifetime, which only a migration writes) stays without one.
local function extend(key, fresh, ttl)
	local pttl = redis.call('PTTL', key)
	if fresh or (pttl >= 0 and pttl < ttl) then
		redis.call('PEXPIRE', key, string.format('%.0f', math.max(ttl, 1)))
	end
end
