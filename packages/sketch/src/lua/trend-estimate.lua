-- Window estimates: for each item, the sum over the window's buckets of its Count-Min estimate in
-- that bucket (layout: see cms-add.lua), and the window total. Needs bitfield.lua prepended.
-- KEYS[1] metadata hash, KEYS[2..] counters strings of the buckets in the window
-- ARGV[1] layout, ARGV[2] depth d, ARGV[3] bit offset of the total,
-- then per item d counter offsets ('#i')
-- Returns {0, window total, estimate per item} or {1, stored layout} on a layout mismatch.
local stored = redis.call('HGET', KEYS[1], 'layout')
if stored and stored ~= ARGV[1] then
  return {1, stored}
end
local d = tonumber(ARGV[2])
local n_args = #ARGV
local offsets = {}
for i = 4, n_args do offsets[ARGV[i]] = true end
local est = {}
local n_items = (n_args - 3) / d
for j = 1, n_items do est[j] = 0 end
local total = 0
for b = 2, #KEYS do
  local key = KEYS[b]
  if redis.call('EXISTS', key) == 1 then
    total = total + redis.call('BITFIELD_RO', key, 'GET', 'i64', ARGV[3])[1]
    local vals = bf_read(key, 'u32', offsets, {})
    for j = 1, n_items do
      local base = 4 + (j - 1) * d
      local low = vals[ARGV[base]]
      for r = 1, d - 1 do
        local v = vals[ARGV[base + r]]
        if v < low then low = v end
      end
      est[j] = est[j] + low
    end
  end
end
local out = {0, total}
for j = 1, n_items do out[j + 2] = est[j] end
return out
