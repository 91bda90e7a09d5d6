-- Add items to a Bloom filter stored as one bit string. Needs bitfield.lua and layout.lua prepended.
-- KEYS[1] metadata hash (field `layout`), KEYS[2] bit string
-- ARGV[1] layout string, ARGV[2] bits, ARGV[3] hashes (k), then per item k bit positions
-- Returns {0, 1 if the item was new (some bit was 0) else 0, per item} or {1, stored layout}.
local mismatch = sk_layout_mismatch(KEYS[1], KEYS[2], ARGV[1], {'bits', ARGV[2], 'hashes', ARGV[3]})
if mismatch then return {1, mismatch} end
local key = KEYS[2]
local k = tonumber(ARGV[3])
local n_args = #ARGV
local positions = {}
for i = 4, n_args do positions[i - 3] = ARGV[i] end
bf_create(key, math.ceil(tonumber(ARGV[2]) / 8))
local bits = bf_read_list(key, 'u1', positions, {})
local sets = {}
local n_sets = 0
local out = {0}
for i = 4, n_args, k do
  local new = 0
  for h = i, i + k - 1 do
    local p = ARGV[h]
    if bits[p] == 0 then
      new = 1
      bits[p] = 1
      sets[n_sets + 1] = 'SET'
      sets[n_sets + 2] = 'u1'
      sets[n_sets + 3] = p
      sets[n_sets + 4] = 1
      n_sets = n_sets + 4
    end
  end
  out[#out + 1] = new
end
bf_run(key, sets, {})
return out
