-- Extend a claimed expiry while its onExpire runs (see hold-claim.lua), so the claim outlives a
-- live claimer however long onExpire takes, and lapses soon after a dead one.
-- Includes: now-ms.lua (internal: bo_now_ms, Redis time in ms).
-- KEYS[1] hold record
-- ARGV[1] claimer id, ARGV[2] claimMs
-- Returns 1 when extended to now + claimMs, 0 when the claim is no longer ours (finished or taken over).
local rec = KEYS[1]
if redis.call('HGET', rec, 'state') ~= 'expiring' or redis.call('HGET', rec, 'claimer') ~= ARGV[1] then
  return 0
end
local now = bo_now_ms()
redis.call('HSET', rec, 'claimUntil', now + tonumber(ARGV[2]))
return 1
