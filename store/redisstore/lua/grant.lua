-- grant stores a record of an OAuth flow (a transaction, a code, a refresh
-- token) unless a live one holds its key, only while the tenant exists.
--
-- KEYS[1]  the tenant's metadata key: without it nothing is written, so
--          that a grant arriving just after a delete leaves nothing behind
--          (but for tenant default, whose key is default_metadata, defined
--          ahead of the script: single-tenant mode serves it without one)
-- KEYS[2]  the record key (same hash slot)
-- ARGV[1]  the record's value
-- ARGV[2]  the record's lifetime in milliseconds
--
-- Returns 1 when stored, 0 when the key is taken, -1 when the tenant does
-- not exist.
if KEYS[1] ~= default_metadata and redis.call('EXISTS', KEYS[1]) == 0 then
	return -1
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return 1
end
return 0
