-- Release the locks of one slot group that `token` still owns. Each freed lock goes to the head of
-- its waiter list: a `token/ttlMs` entry (a one-resource waiter) gets it handed over directly (set
-- to its token with its TTL and a new fence); a `token` entry (a multi-resource waiter) is only
-- woken and the lock is deleted, so it competes again (no reservation that could livelock). The
-- waiter is woken through pub/sub with `token fence-or-dash lockKey` (or by the reply, see ARGV[3]).
-- KEYS[3i-2] lock key, KEYS[3i-1] fence counter, KEYS[3i] waiter list, for resource i = 1..n
-- ARGV[1] token, ARGV[2] wake-up channel
-- ARGV[3] the token prefix of the releasing SeatLock ('' = none): its own waiters are not sent a
--         PUBLISH but listed in the reply, and the releasing process wakes them itself
-- ARGV[3+i] the fence the releaser got for resource i, or '0' when it does not know it for sure
--           (a restored lease): only a fence the SeatLock received itself may extend a block
-- Returns {released, token_1, fence_1, lockKey_1, ...}: the number of locks that were still owned by
--         `token` and are now released, then one triple per waiter of the releasing SeatLock to
--         wake (fence '-' when only woken, not handed the lock).
-- Fences come in blocks of 2^20 (see acquire.lua): the next holder gets the releaser's fence + 1
-- while that stays inside the releaser's block, else the first number of a new block.
local STRIDE = 1048576
local function nextFence(key, known)
  local f = tonumber(known)
  if f and f > 0 and f % STRIDE ~= 0 then return string.format('%.0f', f + 1) end
  return string.format('%.0f', redis.call('INCRBY', key, STRIDE) - STRIDE + 1)
end

local released = 0
local out = {0}
local mine = ARGV[3]
local function wake(w, f, lock)
  if mine ~= '' and string.sub(w, 1, #mine) == mine then
    -- A waiter of the releasing SeatLock: it is woken by the reply, no PUBLISH needed.
    out[#out + 1] = w
    out[#out + 1] = f
    out[#out + 1] = lock
  else
    redis.call('PUBLISH', ARGV[2], w .. ' ' .. f .. ' ' .. lock)
  end
end
for i = 1, #KEYS / 3 do
  local lock, fence, list = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if redis.call('GET', lock) == ARGV[1] then
    local e = redis.call('LPOP', list)
    local slash = e and string.find(e, '/', 1, true)
    if slash then
      local w = string.sub(e, 1, slash - 1)
      redis.call('SET', lock, w, 'PX', string.sub(e, slash + 1))
      wake(w, nextFence(fence, ARGV[3 + i]), lock)
    else
      redis.call('DEL', lock)
      if e then wake(e, '-', lock) end
    end
    released = released + 1
  end
end
out[1] = released
return out
