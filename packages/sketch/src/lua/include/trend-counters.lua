-- Include (see luaScript's `includes`): helpers for a Trending bucket's counters (layout trend3),
-- used by the Trending scripts. No KEYS/ARGV of its own: the scripts pass the keys.
-- Provides SK_TC_MAX, SK_TC_SENT, SK_TC_FMT, SK_TC_CHUNK and the sk_tc_* functions below.
--
-- A bucket's counters string: bytes 0-7 the i64 total, 8-11 the u32 admission threshold (see
-- trend-add.lua), byte 12 the counter width w in bits (8, 16 or 32; 0 only when the key does not
-- exist), bytes 13-15 zero, then cells = depth × width counters of w bits, big-endian, counter i
-- (row·width + column, 0-based) at bit 128 + i·w.
-- A counter below 2^w − 1 holds its value. A counter at 2^w − 1 (w < 32) means "at least 2^w − 1":
-- its value is field i of the bucket's overflow hash, or 2^w − 1 when the field is absent. 32-bit
-- counters saturate at 2^32 − 1. New buckets start at w = 8; when the overflow hash holds more than
-- limit = min(128, max(16, cells / 16)) fields, the bucket is rewritten at the narrowest wider width
-- that brings it back under the limit (values never change, only where they are stored). The limit
-- keeps the hash in Redis' compact listpack encoding (≤ 128 fields by default, ~14 bytes a field)
-- and below the cost of widening, so a bucket never costs much more than 4 bytes per counter and a
-- lightly used one about 1. The stored form is a function of the counter values alone (width: the
-- narrowest whose overflow fits; array: min(value, 2^w − 1); hash: the values ≥ 2^w − 1), so
-- writers that apply the same updates in any batching store the same bytes.
-- Counter indexes in Lua tables are 1-based (i + 1).

local SK_TC_MAX = 4294967295
local SK_TC_SENT = {[8] = 255, [16] = 65535, [32] = 4294967295}
local SK_TC_FMT = {[16] = 'I2', [32] = 'I4'}
-- values per unpack()/string.char() call (Redis' Lua stack allows about 8000)
local SK_TC_CHUNK = 900

-- Fields the overflow hash may hold before the bucket widens.
local function sk_tc_limit(cells)
  return math.min(128, math.max(16, math.floor(cells / 16)))
end

-- Open bucket `key` (counters) with overflow hash `ovf`: reads the header. `expire_at` (unix ms)
-- is given to keys this script creates.
local function sk_tc_open(key, ovf, cells, expire_at)
  local h = redis.call('BITFIELD_RO', key, 'GET', 'i64', 0, 'GET', 'u32', 64, 'GET', 'u8', 96)
  local st = {
    key = key, ovf = ovf, cells = cells, expire_at = expire_at,
    total = h[1], threshold = h[2], w = h[3], exists = h[3] ~= 0,
    limit = sk_tc_limit(cells),
  }
  if not st.exists then st.w = 8 end
  return st
end

-- Decode counter array `s` of width `w` into a list of cells values (1-based).
local function sk_tc_decode_all(s, w, cells)
  local vals = {}
  local at = 0
  local p = 1
  while at < cells do
    local take = math.min(SK_TC_CHUNK, cells - at)
    local t
    if w == 8 then
      t = {string.byte(s, p, p + take - 1)}
      p = p + take
    else
      t = {struct.unpack('>' .. string.rep(SK_TC_FMT[w], take), s, p)}
      p = t[take + 1]
    end
    for j = 1, take do vals[at + j] = t[j] end
    at = at + take
  end
  return vals
end

-- Encode values 1..cells of `vals` as a counter array of width `w` (values above 2^w − 1 stored
-- as 2^w − 1). When `changed` (a set of indexes) is given, the changed values ≥ 2^w − 1 are appended
-- to `big` as (index − 1, value) pairs for the overflow hash.
local function sk_tc_encode_all(vals, w, cells, changed, big)
  local sent = SK_TC_SENT[w]
  local parts = {}
  local fmt
  if w ~= 8 then fmt = '>' .. string.rep(SK_TC_FMT[w], SK_TC_CHUNK) end
  local nb = big and #big or 0
  local at = 0
  while at < cells do
    local take = math.min(SK_TC_CHUNK, cells - at)
    if take < SK_TC_CHUNK and w ~= 8 then fmt = '>' .. string.rep(SK_TC_FMT[w], take) end
    if w == 32 then
      parts[#parts + 1] = struct.pack(fmt, unpack(vals, at + 1, at + take))
    else
      local t = {}
      for j = 1, take do
        local v = vals[at + j]
        if v >= sent then
          if changed and changed[at + j] then
            big[nb + 1] = at + j - 1
            big[nb + 2] = v
            nb = nb + 2
          end
          v = sent
        end
        t[j] = v
      end
      if w == 8 then
        parts[#parts + 1] = string.char(unpack(t, 1, take))
      else
        parts[#parts + 1] = struct.pack(fmt, unpack(t, 1, take))
      end
    end
    at = at + take
  end
  return table.concat(parts)
end

-- Replace the values of the counters in `list` (1-based indexes) that sit at 2^w − 1 with their
-- value in the overflow hash.
local function sk_tc_overlay(st, list, vals)
  local count = #list
  for start = 1, count, 1000 do
    local last = math.min(count, start + 999)
    local fields = {}
    for j = start, last do fields[j - start + 1] = list[j] - 1 end
    local res = redis.call('HMGET', st.ovf, unpack(fields))
    for j = start, last do
      local v = res[j - start + 1]
      if v then vals[list[j]] = tonumber(v) end
    end
  end
end

-- All counters of the bucket, as a list of cells values (true values, overflow applied).
local function sk_tc_read_all(st)
  local cells = st.cells
  if not st.exists then
    local vals = {}
    for i = 1, cells do vals[i] = 0 end
    return vals
  end
  local w = st.w
  local s = redis.call('GETRANGE', st.key, 16, 15 + cells * w / 8)
  local vals = sk_tc_decode_all(s, w, cells)
  if w < 32 then
    local flat = redis.call('HGETALL', st.ovf)
    for j = 1, #flat, 2 do vals[tonumber(flat[j]) + 1] = tonumber(flat[j + 1]) end
  end
  return vals
end

-- Read the counters in `list` (1-based indexes, duplicates allowed) into vals[index] (true values),
-- skipping those already in `vals`. One GETRANGE of the array unless it holds over 200 counters per
-- counter wanted (then BITFIELD_RO GET).
local function sk_tc_read(st, list, vals)
  local n = #list
  if not st.exists then
    for j = 1, n do vals[list[j]] = 0 end
    return
  end
  local w = st.w
  local sent = SK_TC_SENT[w]
  local big = {}
  if n * 200 >= st.cells then
    local s = redis.call('GETRANGE', st.key, 16, 15 + st.cells * w / 8)
    local byte = string.byte
    for j = 1, n do
      local i = list[j]
      if vals[i] == nil then
        local v
        if w == 8 then
          v = byte(s, i)
        elseif w == 16 then
          local a, b = byte(s, 2 * i - 1, 2 * i)
          v = a * 256 + b
        else
          local p = 4 * i - 3
          local a, b, c, d = byte(s, p, p + 3)
          v = ((a * 256 + b) * 256 + c) * 256 + d
        end
        vals[i] = v
        if v == sent and w < 32 then big[#big + 1] = i end
      end
    end
  else
    local idx = {}
    local g = 0
    local seen = {}
    for j = 1, n do
      local i = list[j]
      if vals[i] == nil and not seen[i] then
        seen[i] = true
        g = g + 1
        idx[g] = i
      end
    end
    local t = 'u' .. w
    for start = 1, g, 1500 do
      local last = math.min(g, start + 1499)
      local args = {}
      local m = 0
      for j = start, last do
        args[m + 1] = 'GET'
        args[m + 2] = t
        args[m + 3] = 128 + (idx[j] - 1) * w
        m = m + 3
      end
      local res = redis.call('BITFIELD_RO', st.key, unpack(args))
      for j = start, last do
        local i = idx[j]
        local v = res[j - start + 1]
        vals[i] = v
        if v == sent and w < 32 then big[#big + 1] = i end
      end
    end
  end
  if #big > 0 then sk_tc_overlay(st, big, vals) end
end

-- sk_tc_open followed by sk_tc_read(st, list, vals), in one BITFIELD_RO call when few counters are wanted
-- and the bucket is 8-bit (the common case; otherwise the counters are read again at their width).
local function sk_tc_load(key, ovf, cells, expire_at, list, vals)
  local n = #list
  if n * 200 >= cells or n > 1500 then
    local st = sk_tc_open(key, ovf, cells, expire_at)
    sk_tc_read(st, list, vals)
    return st
  end
  local args = {'GET', 'i64', 0, 'GET', 'u32', 64, 'GET', 'u8', 96}
  local m = 9
  for j = 1, n do
    args[m + 1] = 'GET'
    args[m + 2] = 'u8'
    args[m + 3] = 128 + (list[j] - 1) * 8
    m = m + 3
  end
  local res = redis.call('BITFIELD_RO', key, unpack(args))
  local st = {
    key = key, ovf = ovf, cells = cells, expire_at = expire_at,
    total = res[1], threshold = res[2], w = res[3], exists = res[3] ~= 0,
    limit = sk_tc_limit(cells),
  }
  if not st.exists then
    st.w = 8
    for j = 1, n do vals[list[j]] = 0 end
  elseif st.w ~= 8 then
    sk_tc_read(st, list, vals)
  else
    local big = {}
    for j = 1, n do
      local i = list[j]
      if vals[i] == nil then
        local v = res[3 + j]
        vals[i] = v
        if v == 255 then big[#big + 1] = i end
      end
    end
    if #big > 0 then sk_tc_overlay(st, big, vals) end
  end
  return st
end

-- Rewrite the bucket at the narrowest wider width whose overflow fits the limit.
local function sk_tc_promote(st)
  local vals = sk_tc_read_all(st)
  local cells = st.cells
  local w = st.w
  repeat
    w = w * 2
    local over = 0
    if w < 32 then
      local sent = SK_TC_SENT[w]
      for i = 1, cells do
        if vals[i] >= sent then over = over + 1 end
      end
    end
  until w == 32 or over <= st.limit
  local head = redis.call('GETRANGE', st.key, 0, 11)
  redis.call('SET', st.key, head .. string.char(w, 0, 0, 0) .. sk_tc_encode_all(vals, w, cells), 'KEEPTTL')
  redis.call('DEL', st.ovf)
  if w < 32 then
    local sent = SK_TC_SENT[w]
    local args = {}
    for i = 1, cells do
      if vals[i] >= sent then
        args[#args + 1] = i - 1
        args[#args + 1] = vals[i]
      end
    end
    for start = 1, #args, 2000 do
      redis.call('HSET', st.ovf, unpack(args, start, math.min(#args, start + 1999)))
    end
    if #args > 0 then redis.call('PEXPIREAT', st.ovf, st.expire_at) end
  end
  st.w = w
end

-- Write the counters in `changed` (a set of 1-based indexes; values in `vals`), or the whole array
-- when `all`, add `add_total` to the total and raise the threshold to `threshold`. Creates the bucket
-- (w = 8, expiring at expire_at) if needed; widens it when its overflow hash grows past the limit.
local function sk_tc_write(st, vals, changed, all, add_total, threshold)
  local cells = st.cells
  if not st.exists then
    redis.call('SET', st.key, string.rep('\0', 12) .. string.char(8, 0, 0, 0) .. string.rep('\0', cells))
    redis.call('PEXPIREAT', st.key, st.expire_at)
    -- a new bucket has no overflow (in case a stale hash outlived its counters)
    redis.call('DEL', st.ovf)
    st.exists = true
    st.w = 8
  end
  local w = st.w
  local sent = SK_TC_SENT[w]
  local big = {}
  local set = {}
  local m = 0
  if all then
    redis.call('SETRANGE', st.key, 16, sk_tc_encode_all(vals, w, cells, changed, big))
  else
    local nb = 0
    local t = 'u' .. w
    for i in pairs(changed) do
      local v = vals[i]
      if w < 32 and v >= sent then
        big[nb + 1] = i - 1
        big[nb + 2] = v
        nb = nb + 2
        v = sent
      end
      set[m + 1] = 'SET'
      set[m + 2] = t
      set[m + 3] = 128 + (i - 1) * w
      set[m + 4] = v
      m = m + 4
      if m >= 6000 then
        redis.call('BITFIELD', st.key, unpack(set, 1, m))
        set = {}
        m = 0
      end
    end
  end
  local nb = #big
  if add_total > 0 then
    set[m + 1] = 'OVERFLOW'
    set[m + 2] = 'SAT'
    set[m + 3] = 'INCRBY'
    set[m + 4] = 'i64'
    set[m + 5] = 0
    set[m + 6] = add_total
    m = m + 6
  end
  if threshold > st.threshold then
    set[m + 1] = 'SET'
    set[m + 2] = 'u32'
    set[m + 3] = 64
    set[m + 4] = threshold
    m = m + 4
  end
  if m > 0 then redis.call('BITFIELD', st.key, unpack(set, 1, m)) end
  if nb > 0 then
    local added = 0
    for start = 1, nb, 2000 do
      added = added + redis.call('HSET', st.ovf, unpack(big, start, math.min(nb, start + 1999)))
    end
    -- only new fields can create the hash or take it past the limit
    if added > 0 then
      redis.call('PEXPIREAT', st.ovf, st.expire_at)
      if redis.call('HLEN', st.ovf) > st.limit then sk_tc_promote(st) end
    end
  end
end

-- The sketch's layout check: nil when `meta` (the metadata hash) is of `layout` — recorded there
-- first when `create` and the hash has none — else the stored layout, which the script returns as
-- {1, stored} so the caller refuses to mix layouts.
local function sk_tc_layout_mismatch(meta, layout, create)
  local stored = redis.call('HGET', meta, 'layout')
  if not stored then
    if create then redis.call('HSET', meta, 'layout', layout) end
    return nil
  end
  if stored ~= layout then return stored end
  return nil
end

-- Add n to one event's d counters, whose 1-based indexes are idx[at + r] + offset (r = 1..d), in
-- vals, marking the ones that changed; returns the event's estimate (the minimum after the update).
-- Conservative update raises only the counters below min + n, to min + n.
local function sk_tc_bump(vals, changed, idx, at, offset, d, n, conservative)
  local est
  if conservative then
    local low = vals[idx[at + 1] + offset]
    for r = 2, d do
      local v = vals[idx[at + r] + offset]
      if v < low then low = v end
    end
    est = low + n
    if est > SK_TC_MAX then est = SK_TC_MAX end
    for r = 1, d do
      local i = idx[at + r] + offset
      if vals[i] < est then
        vals[i] = est
        changed[i] = true
      end
    end
  else
    for r = 1, d do
      local i = idx[at + r] + offset
      local v = vals[i] + n
      if v > SK_TC_MAX then v = SK_TC_MAX end
      vals[i] = v
      changed[i] = true
      if not est or v < est then est = v end
    end
  end
  return est
end

-- Offer item with estimate est to the bucket's bounded top-K candidate set c = {top = ZSET key,
-- k = top-K size, expire_at, threshold, card (nil until known)}. c.threshold is a past minimum score
-- of the full set: minimum scores never decrease and a member's estimate only grows past its score,
-- so an estimate at or below it is not a member and cannot enter (most events of a skewed stream
-- skip the ZSET). Raises c.threshold as it sees the set's minimum.
local function sk_tc_offer(c, item, est)
  if est <= c.threshold then return end
  -- XX GT CH: 1 if it was a member (its estimate only grows), without a separate ZSCORE
  if redis.call('ZADD', c.top, 'XX', 'GT', 'CH', est, item) == 1 then return end
  if not c.card then c.card = redis.call('ZCARD', c.top) end
  if c.card < c.k then
    redis.call('ZADD', c.top, est, item)
    c.card = c.card + 1
    if c.card == 1 then redis.call('PEXPIREAT', c.top, c.expire_at) end
    return
  end
  local low = redis.call('ZRANGE', c.top, 0, 0, 'WITHSCORES')
  local low_score = tonumber(low[2])
  if est > low_score then
    redis.call('ZREM', c.top, low[1])
    redis.call('ZADD', c.top, est, item)
  end
  if low_score > c.threshold then c.threshold = low_score end
end
