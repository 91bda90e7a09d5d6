-- Include (see luaScript's `includes`; needs fence.lua before it): a freed lock goes to the head of
-- its waiter list. A `token/ttlMs` entry (a one-resource waiter) gets it handed over directly (its
-- token, its TTL, a fence); a `token` entry (a multi-resource waiter) is only woken and the lock is
-- deleted, so it competes again (no reservation that could livelock); with no entry the lock is
-- deleted.
-- Provides sl_hand_over(lock, counter, list, known, deferred) → the waiter's token and its fence
-- ('-' when only woken), or nothing when nobody waits. `known`: the releaser's own fence (a number,
-- nil or 0 when not known for sure), which the next holder may extend; `deferred`: the entry to use
-- when the list is empty (nil for none). The caller wakes the waiter (`token fence lock`).
local function sl_hand_over(lock, counter, list, known, deferred)
  local e = redis.call('LPOP', list) or deferred
  local slash = e and string.find(e, '/', 1, true)
  if not slash then
    redis.call('DEL', lock)
    if e then return e, '-' end
    return nil
  end
  local w = string.sub(e, 1, slash - 1)
  redis.call('SET', lock, w, 'PX', string.sub(e, slash + 1))
  if known and known > 0 and known % SL_FENCE_STRIDE ~= 0 then
    return w, string.format('%.0f', known + 1)
  end
  return w, sl_new_fence(counter)
end
