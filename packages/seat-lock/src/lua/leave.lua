-- A waiter gives up (timeout or abort): leave every waiter list of one slot group, and pass on any
-- lock handed to it in the meantime (the handoff of a release in ops.lua).
-- KEYS[3i-2] lock key, KEYS[3i-1] fence counter, KEYS[3i] waiter list, for resource i = 1..n
-- ARGV[1] token, ARGV[2] wake-up channel, ARGV[3] its waiter-list entry
-- Returns the number of locks passed on.
-- Includes: fence.lua, handoff.lua. A waiter that gives up does not know the fence of a lock
-- handed to it meanwhile, so the next holder gets a new block.
local passed = 0
for i = 1, #KEYS / 3 do
  local lock, fence, list = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  redis.call('LREM', list, 0, ARGV[3])
  if redis.call('GET', lock) == ARGV[1] then
    local w, given = sl_hand_over(lock, fence, list, nil, nil)
    if w then redis.call('PUBLISH', ARGV[2], w .. ' ' .. given .. ' ' .. lock) end
    passed = passed + 1
  end
end
return passed
