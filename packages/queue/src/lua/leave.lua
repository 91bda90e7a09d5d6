-- A user leaves: removed from the line (with its ticket's heartbeat deadline), the pre-queue and
-- the active set. A waiter who leaves counts in leftTotal (abandons per minute: tick.lua).
-- KEYS[1] waiting ZSET, KEYS[2] pre-queue ZSET, KEYS[3] active ZSET, KEYS[4] active HASH,
-- KEYS[5] meta HASH, KEYS[6] ticket counter (unused: the room's first seven keys, as visit.lua),
-- KEYS[7] heartbeat ZSET
-- ARGV[1] userId
-- Returns 1 if the user was waiting or active, else 0.
local user = ARGV[1]
local ticket = redis.call('ZSCORE', KEYS[1], user)
if ticket then
  redis.call('ZREM', KEYS[1], user)
  redis.call('ZREM', KEYS[7], ticket)
end
local waited = (ticket and 1 or 0) + redis.call('ZREM', KEYS[2], user)
if waited > 0 then redis.call('HINCRBY', KEYS[5], 'leftTotal', 1) end
local n = waited + redis.call('ZREM', KEYS[3], user)
redis.call('HDEL', KEYS[4], user)
if n > 0 then return 1 end
return 0
