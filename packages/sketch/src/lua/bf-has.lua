-- Test items against a Bloom filter. Includes: bitfield.lua, layout.lua.
-- KEYS[1] metadata hash, KEYS[2] bit string
-- ARGV[1] layout string, ARGV[2] hashes (k), then per item k bit positions
-- Returns {0, 1 if all k bits are set (maybe present) else 0, per item} or {1, stored layout}.
local mismatch = sk_layout_mismatch(KEYS[1], KEYS[2], ARGV[1], nil)
if mismatch then return {1, mismatch} end
local key = KEYS[2]
local k = tonumber(ARGV[2])
local n_args = #ARGV
local positions = {}
for i = 3, n_args do positions[i - 2] = ARGV[i] end
local bits = sk_bf_read_list(key, 'u1', positions, {})
local out = {0}
for i = 3, n_args, k do
  local all = 1
  for h = 0, k - 1 do
    if bits[ARGV[i + h]] == 0 then all = 0 end
  end
  out[#out + 1] = all
end
return out
