-- Confirm or cancel a hold: the one-winner decision against expiry (see hold-claim.lua).
-- Includes: now-ms.lua (internal: bo_now_ms, Redis time in ms).
-- KEYS[1] hold record, KEYS[2] due index
-- ARGV[1] holdId, ARGV[2] 'confirmed' or 'cancelled', ARGV[3] keepMs (record TTL once decided)
-- Returns {1, 'held', lock token, resources JSON} when this call decided it (the caller frees the
-- seat locks with them), else {0, current state} ('missing' when absent).
-- Confirm is refused once the deadline (expiresAt + grace, Redis time) has passed.
local rec = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'token', 'resources')
local state = rec[1]
if not state then return {0, 'missing'} end
if state ~= 'held' then return {0, state} end
if ARGV[2] == 'confirmed' and bo_now_ms() >= tonumber(rec[2]) then return {0, 'due'} end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, 'held', rec[3], rec[4]}
