-- audit appends one event to a tenant's audit trail, capped near a length,
-- only while the tenant exists, so that no trail outlives its tenant (an
-- event written during a cascade delete is refused or swept).
--
-- KEYS[1]  the tenant's metadata key
-- KEYS[2]  the tenant's audit stream (same hash slot)
-- ARGV[1]  the length to keep: MAXLEN ~, so Redis trims whole nodes of the
--          stream and may keep up to stream-node-max-entries (default 100)
--          more
-- ARGV[2]  the event's JSON
--
-- Returns the event's ID, or false when the tenant does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
	return false
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
