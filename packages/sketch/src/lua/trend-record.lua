-- Record one event (no dedupe) in one bucket of a Trending: the lean single-event form of
-- trend-add.lua (same layout, same effect), without its batch tables.
-- KEYS[1] metadata hash (field `layout`), KEYS[2] bucket counters string, KEYS[3] bucket candidate ZSET
-- ARGV[1] layout, ARGV[2] '1' for conservative update, ARGV[3] bit offset of the total,
-- ARGV[4] expiry (unix ms), ARGV[5] top-K size, ARGV[6] item, ARGV[7] n,
-- ARGV[8..] the d counter offsets ('#i')
-- Returns {0, 1} (counted) or {1, stored layout} on a layout mismatch.
local stored = redis.call('HGET', KEYS[1], 'layout')
if not stored then
  redis.call('HSET', KEYS[1], 'layout', ARGV[1])
elseif stored ~= ARGV[1] then
  return {1, stored}
end
local MAX = 4294967295
local cms = KEYS[2]
local top = KEYS[3]
local total_off = tonumber(ARGV[3])
local thr_off = total_off + 64
local item = ARGV[6]
local n = tonumber(ARGV[7])
local d = #ARGV - 7
local get = {'GET', 'i64', total_off, 'GET', 'u32', thr_off}
for r = 1, d do
  get[3 * r + 4] = 'GET'
  get[3 * r + 5] = 'u32'
  get[3 * r + 6] = ARGV[7 + r]
end
local v = redis.call('BITFIELD_RO', cms, unpack(get))
if v[1] == 0 and redis.call('EXISTS', cms) == 0 then
  redis.call('SET', cms, string.rep('\0', thr_off / 8 + 4))
  redis.call('PEXPIREAT', cms, ARGV[4])
end
local threshold = v[2]
local set = {'OVERFLOW', 'SAT', 'INCRBY', 'i64', total_off, n}
local est
if ARGV[2] == '1' then
  local low = v[3]
  for r = 2, d do
    if v[r + 2] < low then low = v[r + 2] end
  end
  est = low + n
  if est > MAX then est = MAX end
  for r = 1, d do
    if v[r + 2] < est then
      set[#set + 1] = 'SET'
      set[#set + 1] = 'u32'
      set[#set + 1] = ARGV[7 + r]
      set[#set + 1] = est
    end
  end
else
  for r = 1, d do
    local x = v[r + 2] + n
    if x > MAX then x = MAX end
    if not est or x < est then est = x end
    set[#set + 1] = 'INCRBY'
    set[#set + 1] = 'u32'
    set[#set + 1] = ARGV[7 + r]
    set[#set + 1] = n
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
      if low_score > threshold then
        set[#set + 1] = 'SET'
        set[#set + 1] = 'u32'
        set[#set + 1] = thr_off
        set[#set + 1] = low_score
      end
    end
  end
end
redis.call('BITFIELD', cms, unpack(set))
return {0, 1}
