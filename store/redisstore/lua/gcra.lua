-- gcra takes one request from a rate limit by the generic cell rate
-- algorithm, in one round trip and on the server's clock.
--
-- KEYS[1]  the limiter state: the theoretical arrival time (unix us)
-- ARGV[1]  the limit: requests per minute, also the burst (> 0)
--
-- Returns {allowed (1 or 0), remaining, retry after (us), reset (us)}, where
-- reset is the time until the full burst is available again.
--
-- Everything is in integer microseconds; memstore's gcra function does the
-- same arithmetic in Go, so keep the two in step. Microseconds since the
-- epoch (about 2^51) are exact in a Lua number, and string.format('%.0f')
-- writes them without the exponent that tostring would use.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local interval = math.floor(60000000 / limit)
if interval < 1 then
	interval = 1
end
local tolerance = interval * limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
	tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
	return {0, 0, allow_at - now, tat - now}
end
-- The state is kept until the burst would be full again; after that it is
-- the same as no state, so an idle key costs no memory.
local ttl = math.floor((new_tat - now + 999) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl))
return {1, math.floor((tolerance - (new_tat - now)) / interval), 0, new_tat - now}
