-- Record many events without dedupe in one bucket of a Trending: the bulk form of trend-add.lua (same
-- layout, same effect), for batches and buffer flushes. Includes: trend-counters.lua. Counter
-- indexes come packed in one binary argument instead of one string argument per counter; with many
-- events the whole counter array is read with one GETRANGE, updated in a Lua table and written back
-- with one SETRANGE; otherwise the needed counters are read (one GETRANGE or BITFIELD_RO, see
-- sk_tc_read) and the changed ones written with BITFIELD SET. Each distinct item is offered to the
-- candidate ZSET once, with its estimate after the whole batch (estimates only grow).
-- KEYS[1] metadata hash (field `layout`), KEYS[2] bucket counters string, KEYS[3] bucket candidate
-- ZSET, KEYS[4] bucket overflow hash
-- ARGV[1] layout, ARGV[2] '1' for conservative update, ARGV[3] counters per bucket (cells),
-- ARGV[4] expiry (unix ms), ARGV[5] top-K size, ARGV[6] depth d,
-- ARGV[7] per event: d counter indexes (row·width + column, 0-based), n as (high, low) 32-bit words
-- and the byte length of its item, all unsigned 32-bit big-endian,
-- ARGV[8] the events' items (UTF-8), concatenated in the same order
-- Returns {0} or {1, stored layout} on a layout mismatch.
local mismatch = sk_tc_layout_mismatch(KEYS[1], ARGV[1], true)
if mismatch then return {1, mismatch} end
local top = KEYS[3]
local conservative = ARGV[2] == '1'
local cells = tonumber(ARGV[3])
local top_k = tonumber(ARGV[5])
local d = tonumber(ARGV[6])
local blob = ARGV[7]
local names_blob = ARGV[8]
local stride = d + 3
local events = #blob / (stride * 4)

-- decode the blob into one flat list: (d indexes, n high, n low) per event
local per = math.floor(900 / stride)
local fmt_full = '>' .. string.rep('I4', stride * per)
local flat = {}
local count = 0
local pos = 1
local left = events
while left > 0 do
  local take = per
  local fmt = fmt_full
  if left < per then
    take = left
    fmt = '>' .. string.rep('I4', stride * take)
  end
  local t = {struct.unpack(fmt, blob, pos)}
  local m = stride * take
  for j = 1, m do flat[count + j] = t[j] end
  count = count + m
  pos = t[m + 1]
  left = left - take
end

-- counters: vals[index + 1], true values (overflow applied)
local full = events * d * 6 > cells
local st
local vals
local changed = {}
if full then
  st = sk_tc_open(KEYS[2], KEYS[4], cells, ARGV[4])
  vals = sk_tc_read_all(st)
else
  vals = {}
  local list = {}
  local m = 0
  for e = 0, events - 1 do
    local b = e * stride
    for r = 1, d do list[m + r] = flat[b + r] + 1 end
    m = m + d
  end
  st = sk_tc_load(KEYS[2], KEYS[4], cells, ARGV[4], list, vals)
end
local threshold = st.threshold
local new_threshold = threshold

local total = 0
local best = {}
local n_best = 0
local names = {}
local name_at = 1
for e = 0, events - 1 do
  local b = e * stride
  local n = flat[b + d + 1] * 4294967296 + flat[b + d + 2]
  total = total + n
  local est = sk_tc_bump(vals, changed, flat, b, 1, d, n, conservative)
  local len = flat[b + d + 3]
  if est > threshold then
    local item = string.sub(names_blob, name_at, name_at + len - 1)
    local had = best[item]
    if not had then
      n_best = n_best + 1
      names[n_best] = item
      best[item] = est
    elseif est > had then
      best[item] = est
    end
  end
  name_at = name_at + len
end

-- candidates: members are raised to their new estimate (GT); newcomers are added while the set has
-- room, then each replaces the lowest member if it is higher (the lowest is cached, so a newcomer
-- that does not get in costs no command). The set never holds more than top-K members, which keeps
-- it in Redis' compact encoding.
if n_best > 0 then
  local size = redis.call('ZCARD', top)
  local was_empty = size == 0
  local ups = {}
  local u = 0
  local newcomers = {}
  for start = 1, n_best, 3000 do
    local last = math.min(n_best, start + 2999)
    local scores = redis.call('ZMSCORE', top, unpack(names, start, last))
    for j = start, last do
      local item = names[j]
      if scores[j - start + 1] then
        ups[u + 1] = best[item]
        ups[u + 2] = item
        u = u + 2
      else
        newcomers[#newcomers + 1] = item
      end
    end
  end
  for start = 1, u, 6000 do
    redis.call('ZADD', top, 'XX', 'GT', unpack(ups, start, math.min(u, start + 5999)))
  end
  local low_item = nil
  local low_score = nil
  for j = 1, #newcomers do
    local item = newcomers[j]
    local est = best[item]
    if size < top_k then
      redis.call('ZADD', top, est, item)
      size = size + 1
      low_item = nil
    else
      if not low_item then
        local low = redis.call('ZRANGE', top, 0, 0, 'WITHSCORES')
        low_item = low[1]
        low_score = tonumber(low[2])
      end
      if est > low_score then
        redis.call('ZREM', top, low_item)
        redis.call('ZADD', top, est, item)
        low_item = nil
      end
    end
  end
  if was_empty and size > 0 then redis.call('PEXPIREAT', top, ARGV[4]) end
  if size >= top_k then
    if not low_item then
      local low = redis.call('ZRANGE', top, 0, 0, 'WITHSCORES')
      low_score = tonumber(low[2])
    end
    if low_score > new_threshold then new_threshold = low_score end
  end
end
sk_tc_write(st, vals, changed, full, total, new_threshold)
return {0}
