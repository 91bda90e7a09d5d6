-- Extend the lease of a claim that the caller still owns.
--
-- KEYS[1]  the record hash
-- ARGV[1]  owner token of the claim
-- ARGV[2]  lease in ms, counted from now
--
-- Returns the new lease deadline (ms, server time), or 0 when the caller no longer owns the claim.
local key = KEYS[1]
if redis.call('HGET', key, 'owner') ~= ARGV[1] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local leaseUntil = now + tonumber(ARGV[2])
redis.call('HSET', key, 'lease', leaseUntil)
return leaseUntil
