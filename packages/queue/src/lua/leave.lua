-- A user leaves: removed from the line, the pre-queue and the active set (its heartbeat generation
-- entry is left for the next eviction sweep, which skips tickets no longer waiting). A waiter who
-- leaves counts in leftTotal (abandons per minute: tick.lua).
-- KEYS[1] waiting ZSET, KEYS[2] pre-queue ZSET, KEYS[3] active ZSET, KEYS[4] active HASH, KEYS[5] meta HASH
-- ARGV[1] userId
-- Returns 1 if the user was waiting or active, else 0.
local user = ARGV[1]
local waited = redis.call('ZREM', KEYS[1], user) + redis.call('ZREM', KEYS[2], user)
if waited > 0 then redis.call('HINCRBY', KEYS[5], 'leftTotal', 1) end
local n = waited + redis.call('ZREM', KEYS[3], user)
redis.call('HDEL', KEYS[4], user)
if n > 0 then return 1 end
return 0
