-- A waiter gives up (timeout or abort): leave every waiter list of one slot group, and pass on any
-- lock handed to it in the meantime (same handoff as release.lua).
-- KEYS[3i-2] lock key, KEYS[3i-1] fence counter, KEYS[3i] waiter list, for resource i = 1..n
-- ARGV[1] token, ARGV[2] wake-up channel, ARGV[3] its waiter-list entry
-- Returns the number of locks passed on.
-- Fences come in blocks of 2^20 (see acquire.lua); a waiter that gives up does not know the
-- fence of a lock handed to it meanwhile, so the next holder gets a new block.
local STRIDE = 1048576
local function nextFence(key)
  return string.format('%.0f', redis.call('INCRBY', key, STRIDE) - STRIDE + 1)
end

local passed = 0
for i = 1, #KEYS / 3 do
  local lock, fence, list = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  redis.call('LREM', list, 0, ARGV[3])
  if redis.call('GET', lock) == ARGV[1] then
    local e = redis.call('LPOP', list)
    local slash = e and string.find(e, '/', 1, true)
    if slash then
      local w = string.sub(e, 1, slash - 1)
      redis.call('SET', lock, w, 'PX', string.sub(e, slash + 1))
      local f = nextFence(fence)
      redis.call('PUBLISH', ARGV[2], w .. ' ' .. f .. ' ' .. lock)
    else
      redis.call('DEL', lock)
      if e then redis.call('PUBLISH', ARGV[2], e .. ' - ' .. lock) end
    end
    passed = passed + 1
  end
end
return passed
