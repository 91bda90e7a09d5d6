-- Read a record with its remaining time to live and the server time, in one atomic step.
--
-- KEYS[1]  the record (a string)
--
-- Returns {} when there is no record, else {record, pttl, now} (the client decodes the record:
-- see record.ts; an in-flight lease is live for pttl - (inFlightTtlMs - leaseMs) more ms).
local key = KEYS[1]
local v = redis.call('GET', key)
if not v then
  return {}
end
local t = redis.call('TIME')
return {v, redis.call('PTTL', key), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
