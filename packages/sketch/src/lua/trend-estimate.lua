-- Window estimates: for each item, the sum over the window's buckets of its Count-Min estimate in
-- that bucket (layout: see trend-counters.lua, which it includes), and the window total.
-- KEYS[1] metadata hash, then per bucket of the window: KEYS[2b] counters string, KEYS[2b+1]
-- overflow hash
-- ARGV[1] layout, ARGV[2] depth d, ARGV[3] counters per bucket (cells),
-- then per item d counter indexes (row·width + column, 0-based)
-- Returns {0, window total, estimate per item} or {1, stored layout} on a layout mismatch.
local mismatch = sk_tc_layout_mismatch(KEYS[1], ARGV[1], false)
if mismatch then return {1, mismatch} end
local d = tonumber(ARGV[2])
local cells = tonumber(ARGV[3])
local n_args = #ARGV
local list = {}
for i = 4, n_args do list[i - 3] = tonumber(ARGV[i]) + 1 end
local est = {}
local n_items = (n_args - 3) / d
for j = 1, n_items do est[j] = 0 end
local total = 0
for b = 2, #KEYS, 2 do
  local st = sk_tc_open(KEYS[b], KEYS[b + 1], cells, 0)
  if st.exists then
    total = total + st.total
    local vals = {}
    sk_tc_read(st, list, vals)
    for j = 1, n_items do
      local base = (j - 1) * d
      local low = vals[list[base + 1]]
      for r = 2, d do
        local v = vals[list[base + r]]
        if v < low then low = v end
      end
      est[j] = est[j] + low
    end
  end
end
local out = {0, total}
for j = 1, n_items do out[j + 2] = est[j] end
return out
