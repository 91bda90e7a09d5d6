-- Add items to a Bloom filter stored as one bit string. Includes: bitfield.lua, layout.lua.
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
sk_bf_create(key, math.ceil(tonumber(ARGV[2]) / 8))
local bits = sk_bf_read_list(key, 'u1', positions, {})
local sets = {}
local n_sets = 0
local out = {0}
for i = 4, n_args, k do
  local new
  new, n_sets = sk_bf_set_bits(bits, ARGV, i, i + k - 1, sets, n_sets)
  out[#out + 1] = new and 1 or 0
end
sk_bf_run(key, sets, {})
return out
