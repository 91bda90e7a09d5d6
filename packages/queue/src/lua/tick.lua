-- One admission round, bounded: move pre-queue arrivals into the line (after startsAt), expire active
-- users past their deadline, evict waiters whose heartbeat generation is stale, admit from the head.
-- KEYS[1]  waiting ZSET   user (encoded id) -> ticket
-- KEYS[2]  pre-queue ZSET user -> random score
-- KEYS[3]  active ZSET    user -> deadline ms (expiresAt + grace)
-- KEYS[4]  active HASH    user -> "expiresAt|jti"
-- KEYS[5]  meta HASH      (see visit.lua) + ticks, admittedTotal, evictedTotal
-- KEYS[6]  ticket counter STRING
-- KEYS[7..14] heartbeat generation SETs h0..h7
-- KEYS[15] ticker lease STRING
-- ARGV[1]  lease token, or '' for a manual tick (no lease involved)
-- ARGV[2]  lease ttl ms
-- ARGV[3]  genMs
-- ARGV[4]  heartbeatTimeoutMs
-- ARGV[5]  max evictions (waiters and expired actives) this round
-- ARGV[6]  admitPerTick
-- ARGV[7]  maxActive
-- ARGV[8]  activeTtlMs
-- ARGV[9]  graceMs
-- ARGV[10] startsAt ms, or -1 without pre-queue
-- ARGV[11] max pre-queue arrivals moved this round
-- Returns {0} lease held by another ticker | {-1} room closed
--       | {1, tick, now, servingTicket, waiting, active, {userId, expiresAt, jti, ...}, {evicted...}, {expired...},
--          paused (1 while the meta hash has paused=1: nobody is admitted, the rest of the round runs)}
--         (user ids as stored: see user-id.ts; the encoded form is 7-bit, so it survives UTF-8 replies)

if redis.call('HEXISTS', KEYS[5], 'closed') == 1 then return {-1} end
local token = ARGV[1]
if token ~= '' then
  local holder = redis.call('GET', KEYS[15])
  if holder == false then
    redis.call('SET', KEYS[15], token, 'PX', ARGV[2])
  elseif holder == token then
    redis.call('PEXPIRE', KEYS[15], ARGV[2])
  else
    return {0}
  end
end

local genMs, timeout = tonumber(ARGV[3]), tonumber(ARGV[4])
local budget, admitPerTick, maxActive = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local activeTtl, grace = tonumber(ARGV[8]), tonumber(ARGV[9])
local startsAt, moveMax = tonumber(ARGV[10]), tonumber(ARGV[11])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tick = redis.call('HINCRBY', KEYS[5], 'ticks', 1)

-- Run `cmd key args...` in chunks (Lua's unpack has a stack limit).
local function batched(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end

-- 1. Pre-queue: reserve tickets once, then move a bounded batch in random-score order.
local pb, pm
if startsAt >= 0 and now >= startsAt then
  local m = redis.call('HMGET', KEYS[5], 'pb', 'pr', 'pm')
  if m[1] == false then
    pb = tonumber(redis.call('GET', KEYS[6]) or '0')
    local pr = redis.call('ZCARD', KEYS[2])
    pm = 0
    if pr > 0 then redis.call('INCRBY', KEYS[6], pr) end
    redis.call('HSET', KEYS[5], 'pb', pb, 'pr', pr, 'pm', 0)
  else
    pb, pm = tonumber(m[1]), tonumber(m[3])
  end
  local popped = redis.call('ZPOPMIN', KEYS[2], moveMax)
  if #popped > 0 then
    -- Fresh tickets: a heartbeat in the current generation, nothing to remove from older ones.
    local g = math.floor(now / genMs)
    local s = g % 8
    if tonumber(redis.call('HGET', KEYS[5], 'g' .. s)) ~= g then redis.call('HSET', KEYS[5], 'g' .. s, g) end
    local line, tickets = {}, {}
    for i = 1, #popped, 2 do
      pm = pm + 1
      line[#line + 1] = pb + pm
      line[#line + 1] = popped[i]
      tickets[#tickets + 1] = pb + pm
    end
    batched('ZADD', KEYS[1], line)
    batched('SADD', KEYS[7 + s], tickets)
    redis.call('HSET', KEYS[5], 'pm', pm)
  end
end

-- 2. Active users past expiresAt + grace free their slot.
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, budget)
batched('ZREM', KEYS[3], expired)
batched('HDEL', KEYS[4], expired)
budget = budget - #expired

-- 3. Waiters whose whole heartbeat generation ended more than `timeout` ago.
local evicted = {}
local staleGen = math.floor((now - timeout) / genMs) - 1
for s = 0, 7 do
  if budget <= 0 then break end
  local g = tonumber(redis.call('HGET', KEYS[5], 'g' .. s))
  if g and g <= staleGen then
    local tickets = redis.call('SPOP', KEYS[7 + s], budget)
    for _, tk in ipairs(tickets) do
      local found = redis.call('ZRANGEBYSCORE', KEYS[1], tk, tk, 'LIMIT', 0, 1)
      if found[1] then evicted[#evicted + 1] = found[1] end
    end
    budget = budget - #tickets
  end
end
batched('ZREM', KEYS[1], evicted)

-- 4. Admit from the head, never above maxActive. While pre-queue arrivals are still being moved,
-- only tickets already moved may pass (the rest of the pre-queue is ahead of later arrivals).
local admitted = {}
local paused = redis.call('HGET', KEYS[5], 'paused') == '1'
local free = maxActive - redis.call('ZCARD', KEYS[3])
local n = math.min(admitPerTick, free)
if paused then n = 0 end
if n > 0 then
  local head
  if pb and redis.call('ZCARD', KEYS[2]) > 0 then
    head = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', pb + pm, 'WITHSCORES', 'LIMIT', 0, n)
    local users = {}
    for i = 1, #head, 2 do users[#users + 1] = head[i] end
    batched('ZREM', KEYS[1], users)
  else
    head = redis.call('ZPOPMIN', KEYS[1], n) -- the head, without a search per user
  end
  local expiresAt = now + activeTtl
  local deadlines, records = {}, {}
  for i = 1, #head, 2 do
    local u = head[i]
    local jti = head[i + 1] .. '.' .. now
    deadlines[#deadlines + 1] = expiresAt + grace
    deadlines[#deadlines + 1] = u
    records[#records + 1] = u
    records[#records + 1] = expiresAt .. '|' .. jti
    admitted[#admitted + 1] = u
    admitted[#admitted + 1] = expiresAt
    admitted[#admitted + 1] = jti
  end
  batched('ZADD', KEYS[3], deadlines)
  batched('HSET', KEYS[4], records)
end

-- 5. Counters: totals, admissions per 10 s bucket (8 buckets in a ring), and their sum over the
-- last minute in 'rate', which visit.lua reads for the ETA without summing buckets itself.
local nAdmitted = #admitted / 3
local b = math.floor(now / 10000)
local bs = b % 8
if nAdmitted > 0 then
  redis.call('HINCRBY', KEYS[5], 'admittedTotal', nAdmitted)
  if tonumber(redis.call('HGET', KEYS[5], 'q' .. bs)) ~= b then
    redis.call('HSET', KEYS[5], 'q' .. bs, b, 'r' .. bs, nAdmitted)
  else
    redis.call('HINCRBY', KEYS[5], 'r' .. bs, nAdmitted)
  end
end
if #evicted > 0 then redis.call('HINCRBY', KEYS[5], 'evictedTotal', #evicted) end
local f = {}
for i = 0, 7 do f[#f + 1] = 'r' .. i; f[#f + 1] = 'q' .. i end
local v = redis.call('HMGET', KEYS[5], unpack(f))
local rate = 0
for i = 0, 7 do
  local q = tonumber(v[2 * i + 2])
  if q and q >= b - 5 then rate = rate + (tonumber(v[2 * i + 1]) or 0) end
end
redis.call('HSET', KEYS[5], 'rate', rate)


local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local serving = 0
if first[2] then serving = tonumber(first[2]) end
local waiting = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
return {1, tick, now, serving, waiting, redis.call('ZCARD', KEYS[3]), admitted, evicted, expired,
  paused and 1 or 0}
