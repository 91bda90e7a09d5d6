-- Give up the ticker lease if this ticker still holds it.
-- KEYS[1] lease STRING
-- ARGV[1] lease token
-- Returns 1 if released, 0 if held by another ticker or absent.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
