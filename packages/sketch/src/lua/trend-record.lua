-- Record one event (no dedupe) in one bucket of a Trending: the lean single-event form of
-- trend-add.lua (same layout, same effect), without its batch tables. Includes:
-- trend-counters.lua.
-- KEYS[1] metadata hash (field `layout`), KEYS[2] bucket counters string, KEYS[3] bucket candidate
-- ZSET, KEYS[4] bucket overflow hash
-- ARGV[1] layout, ARGV[2] '1' for conservative update, ARGV[3] counters per bucket (cells),
-- ARGV[4] expiry (unix ms), ARGV[5] top-K size, ARGV[6] item, ARGV[7] n,
-- ARGV[8..] the d counter indexes (row·width + column, 0-based)
-- Returns {0, 1} (counted) or {1, stored layout} on a layout mismatch.
local mismatch = sk_tc_layout_mismatch(KEYS[1], ARGV[1], true)
if mismatch then return {1, mismatch} end
local top = KEYS[3]
local item = ARGV[6]
local n = tonumber(ARGV[7])
local d = #ARGV - 7
local list = {}
for r = 1, d do list[r] = tonumber(ARGV[7 + r]) + 1 end
local vals = {}
local st = sk_tc_load(KEYS[2], KEYS[4], tonumber(ARGV[3]), ARGV[4], list, vals)
local threshold = st.threshold
local changed = {}
local est = sk_tc_bump(vals, changed, list, 0, 0, d, n, ARGV[2] == '1')
local cand = { top = top, k = tonumber(ARGV[5]), expire_at = ARGV[4], threshold = threshold }
sk_tc_offer(cand, item, est)
sk_tc_write(st, vals, changed, false, n, cand.threshold)
return {0, 1}
