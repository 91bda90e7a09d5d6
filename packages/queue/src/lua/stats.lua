-- Room counters. The per-minute sums are tick.lua's (stored in the meta hash at each tick, so they
-- are computed in one place and are as of the last tick).
-- KEYS[1] waiting ZSET, KEYS[2] pre-queue ZSET, KEYS[3] active ZSET, KEYS[4] meta HASH,
-- KEYS[5] wait HASH (tick.lua: '<bucket>:<bin>' -> admissions, the last minute's buckets only)
-- Returns {waiting, active, admittedPerMin, evictedTotal, admittedTotal, ticks, paused (1|0),
--          abandonedPerMin, maxActive|nil, admitPerTick|nil, order|nil (the stored overrides),
--          {field, count, ...} of the wait HASH}
local v = redis.call('HMGET', KEYS[4], 'rate', 'evictedTotal', 'admittedTotal', 'ticks', 'paused',
  'abandonRate', 'maxActive', 'admitPerTick', 'order')
return {redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),
  tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0,
  v[5] == '1' and 1 or 0, tonumber(v[6]) or 0, v[7], v[8], v[9], redis.call('HGETALL', KEYS[5])}
