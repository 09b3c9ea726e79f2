-- create stores a new tenant's record unless the ID is taken or an earlier
-- delete of the tenant has not finished: a tenant created then would
-- inherit the data that delete left. Both keys share the tenant's slot.
--
-- KEYS[1]  the tenant's metadata key
-- KEYS[2]  the tenant's deleting marker
-- ARGV[1]  the record
--
-- Returns 1 when stored, 0 when the record exists, -1 when the marker does.
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then
	return -1
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
