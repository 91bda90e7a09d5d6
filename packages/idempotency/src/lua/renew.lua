-- Extend the lease of a claim that the caller still owns. The lease clock is the record's TTL
-- (see claim.lua): resetting it to inFlightTtlMs makes the lease live for leaseMs from now.
--
-- KEYS[1]  the record (a string)
-- ARGV[1]  owner prefix of the claim ('I' .. token .. '\n')
-- ARGV[2]  time to live of an in-flight record in ms (as given when claiming)
-- ARGV[3]  lease in ms (as given when claiming)
--
-- Returns the new lease deadline (ms, server time), or 0 when the caller no longer owns the claim.
local key = KEYS[1]
if redis.call('GETRANGE', key, 0, string.len(ARGV[1]) - 1) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', key, ARGV[2])
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
