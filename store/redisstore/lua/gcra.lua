-- gcra takes requests from a rate limit by the generic cell rate algorithm,
-- in one round trip and on the server's clock: one request for a decision
-- of its own, or several at once for a lease, after giving back what an
-- earlier lease left unspent.
--
-- KEYS[1]  the limiter state: the theoretical arrival time (unix us)
--
-- Unlike the scripts that store a tenant's records, this one does not check
-- that the tenant exists: a state written while the tenant's delete sweeps
-- may outlive the sweep, but it holds nothing of value and expires within
-- minutes (when the burst is full again).
--
-- ARGV[1]  the limit: requests per minute, also the burst (> 0)
-- ARGV[2]  want: how many requests to take (>= 0)
-- ARGV[3]  unused: how many requests of an earlier lease to give back (>= 0)
--
-- Returns {granted, remaining, retry after (us), reset (us)}. granted is
-- 0 to want; remaining and reset (the time until the full burst is
-- available again) describe the budget after the grant; retry after, when
-- nothing was granted, is the time until one request is available.
--
-- Everything is in integer microseconds; memstore's take function does the
-- same arithmetic in Go, so keep the two in step. Microseconds since the
-- epoch (about 2^51) are exact in a Lua number, and string.format('%.0f')
-- writes them without the exponent that tostring would use.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local unused = tonumber(ARGV[3])
local interval = math.floor(60000000 / limit)
if interval < 1 then
	interval = 1
end
local tolerance = interval * limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
	tat = now
end
-- Giving back moves the arrival time back by one interval a request, as if
-- they had never been taken; a bucket that has filled up meanwhile stays
-- full, so what comes back never exceeds the burst.
if unused > 0 then
	tat = tat - unused * interval
	if tat < now then
		tat = now
	end
end
local available = math.floor((now + tolerance - tat) / interval)
if available < 0 then
	available = 0
end
local granted = math.min(want, available)
local new_tat = tat + granted * interval
if granted > 0 or unused > 0 then
	if new_tat > now then
		-- The state is kept until the burst would be full again; after
		-- that it is the same as no state, so an idle key costs no memory.
		local ttl = math.floor((new_tat - now + 999) / 1000)
		redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl))
	else
		redis.call('DEL', KEYS[1])
	end
end
if granted == 0 and want > 0 then
	return {0, 0, tat + interval - tolerance - now, tat - now}
end
return {granted, available - granted, 0, new_tat - now}
