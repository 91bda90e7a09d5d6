-- Acquire and release seat locks: several independent operations in one call (the acquisitions
-- and releases a SeatLock starts in one tick on one connection), run in order, each one atomic and
-- each with the same effect as if it had been called on its own.
-- ARGV[1] wake-up channel
-- ARGV[2] the token prefix of the calling SeatLock ('' = none): a waiter of its own that a release
--         hands a lock to (or wakes) is listed in the release's reply instead of sent a PUBLISH
-- Then, per operation (few arguments each: every argument costs the client and Redis):
-- ARGV spec, ARGV token[, ARGV entry]; spec = fields separated by ':', the first two being the kind
-- ('A' acquire, 'R' release) and n, the number of resources. The operation takes the next 3n KEYS:
-- KEYS[3i-2] lock key, KEYS[3i-1] fence counter, KEYS[3i] waiter list of its resource i = 1..n
-- (all in one Cluster slot).
--   'A:n:ttl:queueTtl:direct:flags', token: acquire every lock, all or nothing. ttl = lease TTL in
--       ms; queueTtl = waiter-list TTL in ms when blocked ('0' = do not join the list); direct '1'
--       = a release may hand the lock straight to us (one-resource acquisitions) else '0'; flags =
--       one character per resource: '1' when the caller believes it is in that waiter list, else
--       '0'; for a one-resource call, '3' = the caller saw this seat contended lately, so it
--       joined the line with a plain RPUSH first and found itself alone in it: try the lock, leave
--       the line if we get it.
--       Reply {1, fence_1, ..., fence_n} (fences as strings), or {0, i, holder, joined, pttl} when
--       resource i is held by `holder`; joined = 1 when the caller is (still, or now) in its
--       waiter list; pttl = the holder's remaining ms (-1 when unknown).
--   'R:n:deferred:fence_1:...:fence_n', token[, entry]: release the locks `token` still owns;
--       each freed lock goes to the head of its waiter list (sl_hand_over in handoff.lua: a
--       one-resource waiter gets it handed over, a multi-resource waiter is only woken and competes
--       again). deferred '1' = the next argument, entry, is the
--       `token/ttlMs` entry of the caller's first one-seat waiter that has not joined the waiter
--       list yet (one resource only: it gets the lock when the list is empty). fence_i = the fence
--       the releaser got for resource i, or '0' when it does not know it for sure (a restored
--       lease): only a fence the SeatLock received itself may extend a block.
--       Reply {released, token_1, fence_1, lockKey_1, ...}: the number of locks that were still
--       owned by `token` and are now released, then one triple per waiter of the calling SeatLock
--       to wake (fence '-' when only woken); others are woken by PUBLISH `token fence-or-dash lock`.
-- Returns one reply per operation, in order (an error reply for an operation that failed).
-- Includes: fence.lua (fences come in blocks), handoff.lua (who gets a freed lock).
local channel, mine = ARGV[1], ARGV[2]

-- k: index of the op's first key - 1; f: its spec fields; n: resources.
local function acquire(k, f, n, token)
  local ttl, queueTtl, direct, flags = f[3], f[4], f[5], f[6]
  local entry = token
  if direct == '1' then entry = token .. '/' .. ttl end

  local function blocked(i, holder)
    local joined = 0
    if queueTtl ~= '0' then
      local list = KEYS[k + 3 * i]
      if string.sub(flags, i, i) ~= '1' then
        -- First time in line: join. Only a new list gets a TTL here (garbage collection for entries
        -- of waiters that died); waiters already in line keep it alive when they poll.
        if redis.call('RPUSH', list, entry) == 1 then redis.call('PEXPIRE', list, queueTtl) end
        joined = 1
      elseif redis.call('PEXPIRE', list, queueTtl, 'GT') == 1 or redis.call('EXISTS', list) == 1 then
        joined = 1
      elseif redis.call('RPUSH', list, entry) == 1 then
        -- The list expired under us: join again.
        redis.call('PEXPIRE', list, queueTtl)
        joined = 1
      end
    end
    return {0, i, holder, joined, redis.call('PTTL', KEYS[k + 3 * i - 2])}
  end

  -- Common case first: one resource, one SET NX (which also returns the holder when it fails).
  if n == 1 then
    local lock, fence, list = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
    local mode = flags
    local v = redis.call('SET', lock, token, 'NX', 'PX', ttl, 'GET')
    if mode == '3' then
      -- The caller just started the waiter list itself: give it its TTL when we have to wait.
      if v and v ~= token then
        redis.call('PEXPIRE', list, queueTtl)
        return {0, 1, v, 1, redis.call('PTTL', lock)}
      end
    elseif v and v ~= token then
      return blocked(1, v)
    end
    -- v == token: a release handed it to us and we have not seen the wake-up yet; refresh the TTL.
    -- (Its fence went out in the wake-up we have not seen: take a new block rather than reuse it.)
    if v then redis.call('SET', lock, token, 'PX', ttl) end
    if mode == '1' or mode == '3' then redis.call('LREM', list, 0, entry) end
    return {1, sl_new_fence(fence)}
  end

  for i = 1, n do
    local v = redis.call('GET', KEYS[k + 3 * i - 2])
    if v and v ~= token then return blocked(i, v) end
  end
  local out = {1}
  for i = 1, n do
    redis.call('SET', KEYS[k + 3 * i - 2], token, 'PX', ttl)
    out[i + 1] = sl_new_fence(KEYS[k + 3 * i - 1])
    if string.sub(flags, i, i) == '1' then redis.call('LREM', KEYS[k + 3 * i], 0, entry) end
  end
  return out
end

local function release(k, f, n, token, deferred)
  local released = 0
  local out = {0}
  local function wake(w, f, lock)
    if mine ~= '' and string.sub(w, 1, #mine) == mine then
      out[#out + 1] = w
      out[#out + 1] = f
      out[#out + 1] = lock
    else
      redis.call('PUBLISH', channel, w .. ' ' .. f .. ' ' .. lock)
    end
  end
  for i = 1, n do
    local lock, fence, list = KEYS[k + 3 * i - 2], KEYS[k + 3 * i - 1], KEYS[k + 3 * i]
    if redis.call('GET', lock) == token then
      local w, given = sl_hand_over(lock, fence, list, tonumber(f[3 + i]), n == 1 and deferred or nil)
      if w then wake(w, given, lock) end
      released = released + 1
    end
  end
  out[1] = released
  return out
end

local replies = {}
local k, a = 0, 3
while a <= #ARGV do
  local f = {}
  for field in string.gmatch(ARGV[a], '[^:]+') do f[#f + 1] = field end
  local n = tonumber(f[2])
  local ok, reply
  if f[1] == 'R' then
    local deferred = nil
    if f[3] == '1' then deferred = ARGV[a + 2] end
    ok, reply = pcall(release, k, f, n, ARGV[a + 1], deferred)
    if deferred then a = a + 1 end
  else
    ok, reply = pcall(acquire, k, f, n, ARGV[a + 1])
  end
  if ok then
    replies[#replies + 1] = reply
  else
    replies[#replies + 1] = {err = type(reply) == 'table' and reply.err or tostring(reply)}
  end
  k = k + 3 * n
  a = a + 2
end
return replies
