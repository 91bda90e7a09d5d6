-- Release the locks of one slot group that `token` still owns. Each freed lock goes to the head of
-- its waiter list: a `token/ttlMs` entry (a one-resource waiter) gets it handed over directly (set
-- to its token with its TTL and a new fence); a `token` entry (a multi-resource waiter) is only
-- woken and the lock is deleted, so it competes again (no reservation that could livelock). The
-- waiter is woken through pub/sub with `token fence-or-dash lockKey`.
-- KEYS[3i-2] lock key, KEYS[3i-1] fence counter, KEYS[3i] waiter list, for resource i = 1..n
-- ARGV[1] token, ARGV[2] wake-up channel
-- Returns the number of locks that were still owned by `token` and are now released.
local released = 0
for i = 1, #KEYS / 3 do
  local lock, fence, list = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if redis.call('GET', lock) == ARGV[1] then
    local e = redis.call('LPOP', list)
    local slash = e and string.find(e, '/', 1, true)
    if slash then
      local w = string.sub(e, 1, slash - 1)
      redis.call('SET', lock, w, 'PX', string.sub(e, slash + 1))
      local f = redis.call('INCR', fence)
      redis.call('PUBLISH', ARGV[2], w .. ' ' .. f .. ' ' .. lock)
    else
      redis.call('DEL', lock)
      if e then redis.call('PUBLISH', ARGV[2], e .. ' - ' .. lock) end
    end
    released = released + 1
  end
end
return released
