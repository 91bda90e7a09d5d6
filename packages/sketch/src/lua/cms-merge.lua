-- Add other sketches (already summed by the caller) into this one, counter by counter, saturating.
-- Includes: layout.lua.
-- KEYS[1] metadata hash, KEYS[2] counters string
-- ARGV[1] layout string, ARGV[2] width, ARGV[3] depth, ARGV[4] bit offset of the total,
-- ARGV[5] the summed counters (width×depth big-endian u32, the BITFIELD byte order),
-- ARGV[6] the summed totals
-- Returns {0, new total} or {1, stored layout} on a layout mismatch.
local mismatch = sk_layout_mismatch(KEYS[1], KEYS[2], ARGV[1], {'width', ARGV[2], 'depth', ARGV[3]})
if mismatch then return {1, mismatch} end
local MAX = 4294967295
local key = KEYS[2]
local add = ARGV[5]
local counters = tonumber(ARGV[2]) * tonumber(ARGV[3])
local old_total = redis.call('BITFIELD_RO', key, 'GET', 'i64', ARGV[4])[1]
-- the new string is written whole (counters + zeroed total, its final size), then the total is set
local cur = redis.call('GET', key)
if cur and #cur >= counters * 4 then
  local parts = {}
  local pos = 1
  for c = 1, counters do
    local a = struct.unpack('>I4', cur, pos)
    local b = struct.unpack('>I4', add, pos)
    local s = a + b
    if s > MAX then s = MAX end
    parts[c] = struct.pack('>I4', s)
    pos = pos + 4
  end
  parts[counters + 1] = string.rep('\0', 8)
  redis.call('SET', key, table.concat(parts))
else
  redis.call('SET', key, add .. string.rep('\0', 8))
end
local total = redis.call('BITFIELD', key, 'OVERFLOW', 'SAT', 'SET', 'i64', ARGV[4], old_total, 'INCRBY', 'i64', ARGV[4], ARGV[6])[2]
return {0, total}
