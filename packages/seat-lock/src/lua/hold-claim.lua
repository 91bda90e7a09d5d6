-- Claim the expiry of a hold whose deadline has passed, so its onExpire callback runs; a claim
-- lasts claimMs, after which another process may take it over (the first one died).
-- Includes: now-ms.lua (internal: bo_now_ms, Redis time in ms).
-- KEYS[1] hold record
-- ARGV[1] claimer id, ARGV[2] claimMs
-- Returns {1, record as flat field/value list} when claimed by this call,
--         {2, ms until the deadline} when not due yet,
--         {3, ms until the current claim ends} when another claimer is running it,
--         {0, state} when there is nothing to do (confirmed, cancelled, expired, missing).
local rec = KEYS[1]
local state = redis.call('HGET', rec, 'state')
if not state then return {0, 'missing'} end
local now = bo_now_ms()
if state == 'held' then
  local left = tonumber(redis.call('HGET', rec, 'deadline')) - now
  if left > 0 then return {2, left} end
elseif state == 'expiring' then
  local left = tonumber(redis.call('HGET', rec, 'claimUntil')) - now
  if left > 0 then return {3, left} end
else
  return {0, state}
end
redis.call('HSET', rec, 'state', 'expiring', 'claimer', ARGV[1], 'claimUntil', now + tonumber(ARGV[2]))
redis.call('HINCRBY', rec, 'runs', 1)
return {1, redis.call('HGETALL', rec)}
