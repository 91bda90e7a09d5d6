-- Room counters.
-- KEYS[1] waiting ZSET, KEYS[2] pre-queue ZSET, KEYS[3] active ZSET, KEYS[4] meta HASH
-- Returns {waiting, active, admittedLastMinute, evictedTotal, admittedTotal, ticks, paused (1|0)}
local t = redis.call('TIME')
local b = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / 10000)
local f = {'evictedTotal', 'admittedTotal', 'ticks', 'paused'}
for i = 0, 7 do f[#f + 1] = 'r' .. i; f[#f + 1] = 'q' .. i end
local v = redis.call('HMGET', KEYS[4], unpack(f))
local sum = 0
for i = 0, 7 do
  local q = tonumber(v[2 * i + 6])
  if q and q >= b - 5 then sum = sum + (tonumber(v[2 * i + 5]) or 0) end
end
return {redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), sum,
  tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, v[4] == '1' and 1 or 0}
