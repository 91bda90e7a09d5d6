-- Record events of one bucket of a Trending: optional Bloom dedupe, Count-Min Sketch update, then
-- the bucket's bounded top-K candidate ZSET (score = the item's estimate in this bucket). Includes:
-- bitfield.lua (Bloom bits), trend-counters.lua (counters layout).
-- The counters string's header holds a u32 admission threshold: a past minimum score of the full
-- candidate set. Minimum scores never decrease and a member's estimate always grows past its score,
-- so an estimate at or below the threshold is not a member and cannot enter: most events of a
-- skewed stream skip the ZSET entirely. Bucket keys get their expiry (ARGV[4]) when created.
-- KEYS[1] metadata hash (field `layout`), KEYS[2] bucket counters string, KEYS[3] bucket candidate
-- ZSET, KEYS[4] bucket overflow hash, KEYS[5] bucket Bloom bit string (dedupe)
-- ARGV[1] layout, ARGV[2] '1' for conservative update, ARGV[3] counters per bucket (cells),
-- ARGV[4] expiry (unix ms), ARGV[5] top-K size, ARGV[6] depth d, ARGV[7] Bloom hashes k,
-- ARGV[8] Bloom bits, then per event: item, n, '1' if deduped else '0', d counter indexes
-- (row·width + column, 0-based), and k Bloom bit positions when deduped
-- Returns {0, 1 if counted else 0 (a repeat of item+dedupeBy in this bucket), per event}
-- or {1, stored layout} on a layout mismatch.
local mismatch = sk_tc_layout_mismatch(KEYS[1], ARGV[1], true)
if mismatch then return {1, mismatch} end
local top = KEYS[3]
local seen = KEYS[5]
local conservative = ARGV[2] == '1'
local top_k = tonumber(ARGV[5])
local d = tonumber(ARGV[6])
local k = tonumber(ARGV[7])
local n_args = #ARGV

local argv = ARGV

-- pass 1: which counters and bits this batch touches, in order
local list = {}
local n_list = 0
local positions = {}
local n_positions = 0
local i = 9
while i <= n_args do
  local c = i + 3
  for r = 0, d - 1 do
    n_list = n_list + 1
    list[n_list] = tonumber(argv[c + r]) + 1
  end
  if argv[i + 2] == '1' then
    for h = 0, k - 1 do
      n_positions = n_positions + 1
      positions[n_positions] = argv[c + d + h]
    end
    i = c + d + k
  else
    i = c + d
  end
end
local vals = {}
local st = sk_tc_load(KEYS[2], KEYS[4], tonumber(ARGV[3]), argv[4], list, vals)
local threshold = st.threshold
local bits = {}
if n_positions > 0 then
  if sk_bf_create(seen, math.ceil(tonumber(argv[8]) / 8)) then
    redis.call('PEXPIREAT', seen, argv[4])
  end
  bits = sk_bf_read_list(seen, 'u1', positions, {})
end
-- writes: counters that changed (their final value is in vals), Bloom bits in order
local changed = {}
local bit_sets = {}
local n_bit_sets = 0

local cand = { top = top, k = top_k, expire_at = argv[4], threshold = threshold }

local out = {0}
local total = 0
local at = 0
i = 9
while i <= n_args do
  local item = argv[i]
  local n = tonumber(argv[i + 1])
  local c = i + 3
  local counted = true
  if argv[i + 2] == '1' then
    counted, n_bit_sets = sk_bf_set_bits(bits, argv, c + d, c + d + k - 1, bit_sets, n_bit_sets)
    i = c + d + k
  else
    i = c + d
  end
  if counted then
    total = total + n
    local est = sk_tc_bump(vals, changed, list, at, 0, d, n, conservative)
    sk_tc_offer(cand, item, est)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
  at = at + d
end
if total > 0 or cand.threshold > threshold then
  sk_tc_write(st, vals, changed, false, total, cand.threshold)
end
sk_bf_run(seen, bit_sets, {})
return out
