-- Record one event (no dedupe) in one bucket of a Trending: the lean single-event form of
-- trend-add.lua (same layout, same effect), without its batch tables. Needs trend-counters.lua
-- prepended.
-- KEYS[1] metadata hash (field `layout`), KEYS[2] bucket counters string, KEYS[3] bucket candidate
-- ZSET, KEYS[4] bucket overflow hash
-- ARGV[1] layout, ARGV[2] '1' for conservative update, ARGV[3] counters per bucket (cells),
-- ARGV[4] expiry (unix ms), ARGV[5] top-K size, ARGV[6] item, ARGV[7] n,
-- ARGV[8..] the d counter indexes (row·width + column, 0-based)
-- Returns {0, 1} (counted) or {1, stored layout} on a layout mismatch.
local stored = redis.call('HGET', KEYS[1], 'layout')
if not stored then
  redis.call('HSET', KEYS[1], 'layout', ARGV[1])
elseif stored ~= ARGV[1] then
  return {1, stored}
end
local top = KEYS[3]
local item = ARGV[6]
local n = tonumber(ARGV[7])
local d = #ARGV - 7
local list = {}
for r = 1, d do list[r] = tonumber(ARGV[7 + r]) + 1 end
local vals = {}
local st = tc_load(KEYS[2], KEYS[4], tonumber(ARGV[3]), ARGV[4], list, vals)
local threshold = st.threshold
local new_threshold = threshold
local changed = {}
local est
if ARGV[2] == '1' then
  local low = vals[list[1]]
  for r = 2, d do
    if vals[list[r]] < low then low = vals[list[r]] end
  end
  est = low + n
  if est > TC_MAX then est = TC_MAX end
  for r = 1, d do
    local i = list[r]
    if vals[i] < est then
      vals[i] = est
      changed[i] = true
    end
  end
else
  for r = 1, d do
    local i = list[r]
    local x = vals[i] + n
    if x > TC_MAX then x = TC_MAX end
    vals[i] = x
    changed[i] = true
    if not est or x < est then est = x end
  end
end
-- candidate set (see trend-add.lua for why the threshold test is safe)
if est > threshold then
  -- XX GT CH: 1 if it was a member (its estimate only grows), without a separate ZSCORE
  if redis.call('ZADD', top, 'XX', 'GT', 'CH', est, item) == 0 then
    local card = redis.call('ZCARD', top)
    if card < tonumber(ARGV[5]) then
      redis.call('ZADD', top, est, item)
      if card == 0 then redis.call('PEXPIREAT', top, ARGV[4]) end
    else
      local low = redis.call('ZRANGE', top, 0, 0, 'WITHSCORES')
      local low_score = tonumber(low[2])
      if est > low_score then
        redis.call('ZREM', top, low[1])
        redis.call('ZADD', top, est, item)
      end
      if low_score > new_threshold then new_threshold = low_score end
    end
  end
end
tc_write(st, vals, changed, false, n, new_threshold)
return {0, 1}
