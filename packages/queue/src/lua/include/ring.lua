-- Include (see luaScript's `includes`; used by visit.lua and tick.lua): the one place that reuses a slot
-- of the heartbeat ring. A slot is reused for generation g when it still holds generation g - 8 or
-- older: every ticket left in it belongs to a waiter silent for at least 7 generations (1.75 x the
-- heartbeat timeout), so instead of reviving them with the new generation, they are moved into the
-- retired SET, which the next tick evicts first. Without this, a tick interval longer than the
-- slot's stale window let silent waiters survive whole ring cycles.
local function q_reuse_slot(meta, slot, slotKey, retiredKey, g)
  if redis.call('EXISTS', slotKey) == 1 then
    if redis.call('EXISTS', retiredKey) == 0 then
      redis.call('RENAME', slotKey, retiredKey)
    else
      local stale = redis.call('SMEMBERS', slotKey)
      for i = 1, #stale, 1000 do
        redis.call('SADD', retiredKey, unpack(stale, i, math.min(i + 999, #stale)))
      end
      redis.call('DEL', slotKey)
    end
  end
  redis.call('HSET', meta, 'g' .. slot, g)
end
