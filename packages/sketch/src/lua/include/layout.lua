-- Include (see luaScript's `includes`): the layout check of a Count-Min Sketch or Bloom filter.
-- Provides sk_layout_mismatch(meta, data, layout, fields), for a metadata hash `meta` with field
-- `layout` and the data key `data`. Returns nil when `meta` records `layout`
-- — recorded there first, with `fields` (field/value list; nil for readers), when neither key
-- exists — else what was found instead, which the script returns as {1, found} so the caller
-- refuses. Data without metadata is never adopted: it is another application's key, or a sketch
-- whose metadata was lost and whose width nobody knows any more. Nothing is written on a mismatch.
local function sk_layout_mismatch(meta, data, layout, fields)
  local stored = redis.pcall('HGET', meta, 'layout')
  if stored == layout then return nil end
  if type(stored) == 'table' then
    return '(none: ' .. meta .. ' holds a ' .. redis.call('TYPE', meta).ok .. ')'
  end
  if stored then return stored end
  if redis.call('EXISTS', meta) == 1 then return '(none: ' .. meta .. ' has no layout field)' end
  local found = redis.call('TYPE', data).ok
  if found ~= 'none' then
    return '(none: ' .. data .. ' holds a ' .. found .. ' without metadata)'
  end
  if fields then redis.call('HSET', meta, 'layout', layout, unpack(fields)) end
  return nil
end
