-- Add counts to a Count-Min Sketch stored as one string of depth×width unsigned 32-bit counters
-- (BITFIELD u32, big-endian, saturating at 2^32-1) followed by a signed 64-bit total at bit offset
-- ARGV[5]. Includes: bitfield.lua, layout.lua.
-- KEYS[1] metadata hash (field `layout`), KEYS[2] counters string
-- ARGV[1] layout string, ARGV[2] width, ARGV[3] depth, ARGV[4] '1' for conservative update,
-- ARGV[5] bit offset of the total, then per item: n, and `depth` counter offsets ('#<row*width+col>')
-- Returns {0, estimate after the update for each item} or {1, stored layout} on a layout mismatch.
local mismatch = sk_layout_mismatch(KEYS[1], KEYS[2], ARGV[1], {'width', ARGV[2], 'depth', ARGV[3]})
if mismatch then return {1, mismatch} end
local MAX = 4294967295
local key = KEYS[2]
local d = tonumber(ARGV[3])
local conservative = ARGV[4] == '1'
local n_args = #ARGV
local offsets = {}
for i = 6, n_args, d + 1 do
  for r = 1, d do offsets[ARGV[i + r]] = true end
end
sk_bf_create(key, tonumber(ARGV[5]) / 8 + 8)
local vals = sk_bf_read(key, 'u32', offsets, {})
local changed = {}
local out = {0}
local total = 0
for i = 6, n_args, d + 1 do
  local n = tonumber(ARGV[i])
  total = total + n
  local est
  if conservative then
    local low = vals[ARGV[i + 1]]
    for r = 2, d do
      local v = vals[ARGV[i + r]]
      if v < low then low = v end
    end
    est = low + n
    if est > MAX then est = MAX end
    for r = 1, d do
      local off = ARGV[i + r]
      if vals[off] < est then
        vals[off] = est
        changed[off] = est
      end
    end
  else
    for r = 1, d do
      local off = ARGV[i + r]
      local v = vals[off] + n
      if v > MAX then v = MAX end
      vals[off] = v
      changed[off] = v
      if not est or v < est then est = v end
    end
  end
  out[#out + 1] = est
end
sk_bf_write(key, 'u32', changed, {'OVERFLOW', 'SAT', 'INCRBY', 'i64', ARGV[5], total})
return out
