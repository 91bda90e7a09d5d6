-- Store the result of a claimed key, only if the caller still owns the claim. A lapsed owner whose
-- claim was taken over (or released) cannot overwrite the newer owner's record. Record layout: see
-- record.ts; this script adds the server-time fields in front of what the client built.
--
-- KEYS[1]  the record (a string)
-- ARGV[1]  owner prefix of the claim ('I' .. token .. '\n')
-- ARGV[2]  retention in seconds, counted from now
-- ARGV[3]  the record's head after expiresAt and completedAt (status … headers JSON, newline)
-- ARGV[4]  body bytes ('' for none)
--
-- Returns expiresAt (ms, server time) when stored, 0 when the caller no longer owns the claim.
local key = KEYS[1]
-- GETRANGE reads only the prefix, never a large stored body.
if redis.call('GETRANGE', key, 0, string.len(ARGV[1]) - 1) ~= ARGV[1] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local exp = now + tonumber(ARGV[2]) * 1000
redis.call('SET', key, 'D' .. exp .. '\n' .. now .. '\n' .. ARGV[3] .. ARGV[4], 'PXAT', exp)
return exp
