-- Acquire every lock of one slot group, all or nothing.
-- KEYS[3i-2] lock key, KEYS[3i-1] fence counter, KEYS[3i] waiter list, for resource i = 1..n
-- ARGV[1] token
-- ARGV[2] lease TTL in ms
-- ARGV[3] waiter-list TTL in ms when blocked ('0' = do not join the waiter list)
-- ARGV[4] '1' = a release may hand the lock straight to us (one-resource acquisitions), else '0'
-- ARGV[4+i] '1' when the caller believes it is in resource i's waiter list, else '0'; for a
--          one-resource call, '3' = the caller saw this seat contended lately, so it joined the line
--          with a plain RPUSH first (one command instead of a script when others are in line) and
--          found itself alone in it: try the lock, and leave the line if we get it
-- Returns {1, fence_1, ..., fence_n} (fences as strings) on success, or
--         {0, i, holder, joined, pttl} when resource i is held by `holder`; joined = 1 when the
--         caller is (still, or now) in its waiter list; pttl = the holder's remaining ms (so a
--         waiter can poll right when a lease that is never released runs out; -1 when unknown, and
--         holder is nil when not read).
-- Fences come in blocks: a lock taken while free starts a block of 2^20 numbers (INCRBY on the fence
-- counter, so every block is above every earlier one); a release that hands the lock over gives the
-- next waiter the holder's fence + 1 without touching the counter, until the block runs out.
-- Waiter-list entries: `token/ttlMs` (hand the lock over directly) or `token` (wake only).
local token = ARGV[1]
local entry = token
if ARGV[4] == '1' then entry = token .. '/' .. ARGV[2] end
local n = #KEYS / 3
local STRIDE = 1048576

local function newFence(key)
  return string.format('%.0f', redis.call('INCRBY', key, STRIDE) - STRIDE + 1)
end

local function blocked(i, holder)
  local joined = 0
  if ARGV[3] ~= '0' then
    local list = KEYS[3 * i]
    if ARGV[4 + i] ~= '1' then
      -- First time in line: join. Only a new list gets a TTL here (it is garbage collection for
      -- entries of waiters that died); waiters already in line keep it alive when they poll.
      if redis.call('RPUSH', list, entry) == 1 then redis.call('PEXPIRE', list, ARGV[3]) end
      joined = 1
    elseif redis.call('PEXPIRE', list, ARGV[3], 'GT') == 1 or redis.call('EXISTS', list) == 1 then
      joined = 1
    elseif redis.call('RPUSH', list, entry) == 1 then
      -- The list expired under us: join again.
      redis.call('PEXPIRE', list, ARGV[3])
      joined = 1
    end
  end
  return {0, i, holder, joined, redis.call('PTTL', KEYS[3 * i - 2])}
end

-- Common case first: one resource, one SET NX (which also returns the holder when it fails).
if n == 1 then
  if ARGV[5] == '3' then
    -- The caller just started the waiter list itself (a plain RPUSH, see ARGV[4+i]): try the lock,
    -- and give the new list its TTL when we have to wait.
    local v = redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[2], 'GET')
    if v and v ~= token then
      redis.call('PEXPIRE', KEYS[3], ARGV[3])
      return {0, 1, v, 1, redis.call('PTTL', KEYS[1])}
    end
    if v then redis.call('SET', KEYS[1], token, 'PX', ARGV[2]) end
    redis.call('LREM', KEYS[3], 0, entry)
    return {1, newFence(KEYS[2])}
  end
  local v = redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[2], 'GET')
  if v and v ~= token then return blocked(1, v) end
  -- v == token: a release handed it to us and we have not seen the wake-up yet; refresh the TTL.
  -- (Its fence went out in the wake-up we have not seen: take a new block rather than reuse it.)
  if v then redis.call('SET', KEYS[1], token, 'PX', ARGV[2]) end
  if ARGV[5] == '1' then redis.call('LREM', KEYS[3], 0, entry) end
  return {1, newFence(KEYS[2])}
end

for i = 1, n do
  local v = redis.call('GET', KEYS[3 * i - 2])
  if v and v ~= token then return blocked(i, v) end
end

local out = {1}
for i = 1, n do
  redis.call('SET', KEYS[3 * i - 2], token, 'PX', ARGV[2])
  out[i + 1] = newFence(KEYS[3 * i - 1])
  if ARGV[4 + i] == '1' then redis.call('LREM', KEYS[3 * i], 0, entry) end
end
return out
