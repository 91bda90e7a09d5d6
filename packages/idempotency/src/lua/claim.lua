-- Claim an idempotency key, or report why it cannot be claimed. One atomic step: a new key is
-- claimed, a lapsed lease is taken over (a new owner, attempt + 1), a live lease is "busy", a done
-- record is returned for replay, a different fingerprint is a mismatch.
-- Times are Redis server time (TIME), so application servers with skewed clocks agree on leases.
--
-- KEYS[1]  the record hash
-- ARGV[1]  owner token (random, unique per claim attempt)
-- ARGV[2]  request fingerprint ('' when the caller has none)
-- ARGV[3]  lease in ms
-- ARGV[4]  time to live of an in-flight record in ms (so an abandoned one is cleaned up eventually)
--
-- Returns one of:
--   {1, attempt, leaseUntil, expiresAt}                                   claimed (attempt > 1: takeover)
--   {2, leaseUntil, expiresAt, now}                                       busy: another owner's lease is live
--   {3, status, headers, body, createdAt, completedAt, expiresAt, now}    done: replay this
--   {4, expiresAt, state}                                                 fingerprint mismatch
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local leaseMs = tonumber(ARGV[3])
local ttlMs = tonumber(ARGV[4])

-- One read of every field the outcomes need (a new key finds them all nil).
local r = redis.call('HMGET', key, 'state', 'fp', 'lease', 'attempt', 'exp', 'status', 'headers',
  'body', 'createdAt', 'completedAt')
local state = r[1]
if not state then
  local leaseUntil = now + leaseMs
  local exp = now + ttlMs
  redis.call('HSET', key, 'state', 'in_flight', 'owner', ARGV[1], 'lease', leaseUntil,
    'fp', ARGV[2], 'createdAt', now, 'attempt', 1, 'exp', exp)
  redis.call('PEXPIREAT', key, exp)
  return {1, 1, leaseUntil, exp}
end

-- The record's expiry is stored in the hash (field exp) and set with PEXPIREAT, so every reply
-- reports the same absolute time.
local expiresAt = tonumber(r[5]) or -1

if r[2] ~= ARGV[2] then
  return {4, expiresAt, state}
end

if state == 'done' then
  return {3, tonumber(r[6]) or 0, r[7], r[8], tonumber(r[9]) or 0, tonumber(r[10]) or 0,
    expiresAt, now}
end

local lease = tonumber(r[3]) or 0
if lease > now then
  return {2, lease, expiresAt, now}
end

-- The previous owner's lease lapsed (crashed or stuck process): take over in the same step.
local attempt = (tonumber(r[4]) or 1) + 1
local leaseUntil = now + leaseMs
local exp = now + ttlMs
redis.call('HSET', key, 'owner', ARGV[1], 'lease', leaseUntil, 'attempt', attempt, 'exp', exp)
redis.call('PEXPIREAT', key, exp)
return {1, attempt, leaseUntil, exp}
