-- Read a record for inspection (no body), with its expiry in server time.
--
-- KEYS[1]  the record hash
--
-- Returns {} when there is no record, else
--   {state, fingerprint, status, createdAt, completedAt, lease, attempt, expiresAt, now}
-- (missing fields are false).
local key = KEYS[1]
local r = redis.call('HMGET', key, 'state', 'fp', 'status', 'createdAt', 'completedAt', 'lease',
  'attempt', 'exp')
if not r[1] then
  return {}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {r[1], r[2], r[3], r[4], r[5], r[6], r[7], tonumber(r[8]) or -1, now}
