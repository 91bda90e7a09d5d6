-- Claim an idempotency key, or report why it cannot be claimed: the full decision in one atomic
-- step. A new key is claimed, a lapsed lease is taken over (a new owner, attempt + 1), a live lease
-- is "busy", a done record is returned for replay, a different fingerprint is a mismatch.
-- The store claims new keys with a plain `SET … NX GET` and runs this script only when that finds
-- an in-flight record (or on Redis < 7, which lacks NX with GET). Record layout: see record.ts.
-- The lease clock is the key's own TTL (Redis server time): an in-flight record gets TTL
-- inFlightTtlMs at each claim and renewal, so its lease is live while PTTL > inFlightTtlMs - leaseMs
-- (both read from the record, i.e. as its owner set them).
--
-- KEYS[1]  the record (a string)
-- ARGV[1]  owner token (random, unique per claim attempt; no newline)
-- ARGV[2]  request fingerprint ('' when the caller has none)
-- ARGV[3]  lease in ms
-- ARGV[4]  time to live of an in-flight record in ms (> lease: how long a lapsed claim is remembered)
--
-- Returns one of:
--   {1, attempt, leaseUntil, expiresAt, createdAt}   claimed (attempt > 1: takeover)
--   {2, leaseUntil, expiresAt, now}                  busy: another owner's lease is live
--   {3, record}                                      done: the record, to replay
--   {4, expiresAt}                                   fingerprint mismatch
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local leaseMs = tonumber(ARGV[3])
local ttlMs = tonumber(ARGV[4])

local function claim(attempt, createdAt)
  redis.call('SET', key, 'I' .. ARGV[1] .. '\n' .. attempt .. '\n' .. ttlMs .. '\n' .. leaseMs ..
    '\n' .. createdAt .. '\n' .. ARGV[2], 'PX', ttlMs)
  return {1, attempt, now + leaseMs, now + ttlMs, createdAt}
end

local v = redis.call('GET', key)
if not v then
  return claim(1, now)
end

local kind = string.sub(v, 1, 1)
if kind == 'D' then
  local exp, fpBytes, at = string.match(v, '^D(%d+)\n%d+\n%d+\n%d+\n%d+\n(%d+)\n()')
  if not exp then
    return redis.error_reply('BOXOFFICE_IDEMPOTENCY not an idempotency record: ' .. key)
  end
  if string.sub(v, at, at + tonumber(fpBytes) - 1) ~= ARGV[2] then
    return {4, tonumber(exp)}
  end
  return {3, v}
end

local attempt, ttl0, lease0, createdAt, fp
if kind == 'I' then
  attempt, ttl0, lease0, createdAt, fp = string.match(v, '^I[^\n]*\n(%d+)\n(%d+)\n(%d+)\n(%d+)\n(.*)$')
end
if not attempt then
  return redis.error_reply('BOXOFFICE_IDEMPOTENCY not an idempotency record: ' .. key)
end

local pttl = redis.call('PTTL', key)
local expiresAt = -1
if pttl >= 0 then
  expiresAt = now + pttl
end
if fp ~= ARGV[2] then
  return {4, expiresAt}
end

local leaseLeft = pttl - (tonumber(ttl0) - tonumber(lease0))
if pttl >= 0 and leaseLeft > 0 then
  return {2, now + leaseLeft, expiresAt, now}
end

-- The previous owner's lease lapsed (crashed or stuck process): take over in the same step.
return claim(tonumber(attempt) + 1, tonumber(createdAt))
