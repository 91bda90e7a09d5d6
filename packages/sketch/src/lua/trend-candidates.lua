-- The strongest candidates of a window: union of the buckets' candidate ZSETs, each candidate scored
-- by the sum of its scores (a lower bound of its window estimate). Reads at most topK × buckets
-- members, never the items themselves.
-- KEYS[1..b] candidate ZSETs of the buckets in the window
-- ARGV[1] how many candidates to return
-- Returns a flat {item, summed score, ...}, best first (ties by item).
local sum = {}
local items = {}
for b = 1, #KEYS do
  local members = redis.call('ZRANGE', KEYS[b], 0, -1, 'WITHSCORES')
  for j = 1, #members, 2 do
    local item = members[j]
    local s = tonumber(members[j + 1])
    local cur = sum[item]
    if cur then
      sum[item] = cur + s
    else
      sum[item] = s
      items[#items + 1] = item
    end
  end
end
table.sort(items, function(a, b)
  local sa, sb = sum[a], sum[b]
  if sa ~= sb then return sa > sb end
  return a < b
end)
local limit = tonumber(ARGV[1])
local out = {}
for j = 1, math.min(limit, #items) do
  out[#out + 1] = items[j]
  out[#out + 1] = tostring(sum[items[j]])
end
return out
