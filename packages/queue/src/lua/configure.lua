-- Store some of a room's live settings (only the fields given, so two concurrent calls never undo
-- each other's other fields) and read them all back: what the next tick of any instance uses.
-- With no fields, only reads (settings()).
-- KEYS[1] meta HASH
-- ARGV    field, value, ... among maxActive, admitPerTick, order (validated by the caller)
-- Returns {-1} room closed | {1, maxActive|nil, admitPerTick|nil, order|nil} (nil: no override)
if redis.call('HEXISTS', KEYS[1], 'closed') == 1 then return {-1} end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
local v = redis.call('HMGET', KEYS[1], 'maxActive', 'admitPerTick', 'order')
return {1, v[1], v[2], v[3]}
