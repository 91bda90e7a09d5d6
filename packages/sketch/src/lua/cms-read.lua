-- Read estimates (minimum over the rows) and the total of a Count-Min Sketch (layout: see
-- cms-add.lua). Includes: bitfield.lua, layout.lua.
-- KEYS[1] metadata hash, KEYS[2] counters string
-- ARGV[1] layout string, ARGV[2] depth, ARGV[3] bit offset of the total,
-- then per item `depth` counter offsets ('#<row*width+col>')
-- Returns {0, total, estimate per item} or {1, stored layout} on a layout mismatch.
local mismatch = sk_layout_mismatch(KEYS[1], KEYS[2], ARGV[1], nil)
if mismatch then return {1, mismatch} end
local key = KEYS[2]
local d = tonumber(ARGV[2])
local n_args = #ARGV
local offsets = {}
for i = 4, n_args do offsets[ARGV[i]] = true end
local vals, head = sk_bf_read(key, 'u32', offsets, {'GET', 'i64', ARGV[3]})
local out = {0, head[1]}
for i = 4, n_args, d do
  local low = vals[ARGV[i]]
  for r = 1, d - 1 do
    local v = vals[ARGV[i + r]]
    if v < low then low = v end
  end
  out[#out + 1] = low
end
return out
