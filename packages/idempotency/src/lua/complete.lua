-- Store the result of a claimed key, only if the caller still owns the claim. A lapsed owner whose
-- claim was taken over (or released) cannot overwrite the newer owner's record.
--
-- KEYS[1]  the record hash
-- ARGV[1]  owner token of the claim
-- ARGV[2]  status (HTTP status, or 0 for store.run values)
-- ARGV[3]  headers (JSON object)
-- ARGV[4]  body bytes ('' for none)
-- ARGV[5]  retention in seconds, counted from now
--
-- Returns expiresAt (ms, server time) when stored, 0 when the caller no longer owns the claim.
local key = KEYS[1]
if redis.call('HGET', key, 'owner') ~= ARGV[1] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = now + tonumber(ARGV[5]) * 1000
redis.call('HSET', key, 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4],
  'completedAt', now, 'exp', exp)
redis.call('HDEL', key, 'owner', 'lease')
redis.call('PEXPIREAT', key, exp)
return exp
