-- delifvalue deletes a key only while it holds the given value: a custom
-- domain key is removed only while it still names the tenant that gives it
-- up, never after another tenant has taken the domain; a delete marker only
-- while it holds the token of the delete that clears it.
--
-- KEYS[1]  the key
-- ARGV[1]  the value it must hold
--
-- Returns 1 when deleted, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
