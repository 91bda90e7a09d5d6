-- One admission round, bounded: expire active users past their deadline, evict silent waiters
-- (past their heartbeat deadline, oldest first), move pre-queue arrivals into the line (after
-- startsAt), admit (the head, or random waiters) with the live settings, update the counters.
-- Includes: now-ms.lua (internal: bo_now_ms).
-- KEYS[1]  waiting ZSET   user (encoded id) -> ticket
-- KEYS[2]  pre-queue ZSET user -> random score
-- KEYS[3]  active ZSET    user -> deadline ms (expiresAt + grace)
-- KEYS[4]  active HASH    user -> "expiresAt|jti"
-- KEYS[5]  meta HASH      (see visit.lua) + ticks, admittedTotal, evictedTotal, leftTotal (leave.lua),
--                          the live settings maxActive/admitPerTick/order (configure.lua: they
--                          override ARGV[6], ARGV[7], ARGV[12]), jc (ticket counter at the last
--                          sample), the counter ring q/r/x<i> and its sums rate/abandonRate
-- KEYS[6]  ticket counter STRING
-- KEYS[7]  heartbeat ZSET  ticket -> deadline ms (visit.lua); every waiter's ticket, nobody else's
-- KEYS[8]  join-time ZSET  ticket counter -> Redis time (member) of the tick that saw it, one
--                          sample per tick, trimmed below the lowest waiting ticket, at most 4096
-- KEYS[9]  wait HASH       '<10 s bucket>:<bin>' -> admissions whose wait fell in that bin, for the
--                          last minute of buckets (bin 0: < 1 ms; bin k: [2^((k-1)/4), 2^(k/4)) ms)
-- KEYS[10] ticker lease STRING
-- ARGV[1]  lease token, or '' for a manual tick (no lease involved)
-- ARGV[2]  lease ttl ms
-- ARGV[3]  maxPollAfterMs (pre-queue arrivals moved into the line get the longest deadline a
--          waiter can have been told: they have no heartbeat of their own yet)
-- ARGV[4]  heartbeatTimeoutMs
-- ARGV[5]  max evictions (waiters and expired actives) this round
-- ARGV[6]  admitPerTick (the constructor's; the meta hash's 'admitPerTick' wins)
-- ARGV[7]  maxActive (likewise 'maxActive')
-- ARGV[8]  activeTtlMs
-- ARGV[9]  graceMs
-- ARGV[10] startsAt ms, or -1 without pre-queue
-- ARGV[11] max pre-queue arrivals moved this round (at least admitPerTick)
-- ARGV[12] order, 'fifo' or 'random' (likewise 'order'): random admits ZRANDMEMBER picks
-- Returns {0} lease held by another ticker | {-1} room closed
--       | {1, tick, now, servingTicket, waiting, active, {userId, expiresAt, jti, ...}, {evicted...}, {expired...},
--          paused (1 while the meta hash has paused=1: nobody is admitted, the rest of the round runs),
--          maxActive, admitPerTick, order (the settings this round used)}
--         (user ids as stored: see user-id.ts; the encoded form is 7-bit, so it survives UTF-8 replies)

if redis.call('HEXISTS', KEYS[5], 'closed') == 1 then return {-1} end
local token = ARGV[1]
if token ~= '' then
  local holder = redis.call('GET', KEYS[10])
  if holder == false then
    redis.call('SET', KEYS[10], token, 'PX', ARGV[2])
  elseif holder == token then
    redis.call('PEXPIRE', KEYS[10], ARGV[2])
  else
    return {0}
  end
end

local maxPoll, timeout = tonumber(ARGV[3]), tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local set = redis.call('HMGET', KEYS[5], 'paused', 'maxActive', 'admitPerTick', 'order', 'jc', 'as',
  'pace')
local paused = set[1] == '1'
local maxActive = tonumber(set[2]) or tonumber(ARGV[7])
local admitPerTick = tonumber(set[3]) or tonumber(ARGV[6])
local order = set[4] or ARGV[12]
local activeTtl, grace = tonumber(ARGV[8]), tonumber(ARGV[9])
local startsAt, moveMax = tonumber(ARGV[10]), math.max(tonumber(ARGV[11]), admitPerTick)
local now = bo_now_ms()
local tick = redis.call('HINCRBY', KEYS[5], 'ticks', 1)

-- Run `cmd key args...` in chunks (Lua's unpack has a stack limit).
local function batched(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end

-- 1. Active users past expiresAt + grace free their slot.
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, budget)
batched('ZREM', KEYS[3], expired)
batched('HDEL', KEYS[4], expired)
budget = budget - #expired

-- 2. Waiters silent past their heartbeat deadline, oldest first (a ticket no longer in the line
-- evicts nobody, should a deadline ever outlive its waiter; every path out of the line removes
-- both).
local evicted = {}
if budget > 0 then
  local silent = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now, 'LIMIT', 0, budget)
  batched('ZREM', KEYS[7], silent)
  for _, tk in ipairs(silent) do
    local found = redis.call('ZRANGEBYSCORE', KEYS[1], tk, tk, 'LIMIT', 0, 1)
    if found[1] then evicted[#evicted + 1] = found[1] end
  end
  batched('ZREM', KEYS[1], evicted)
  budget = budget - #silent
end

-- 3. Pre-queue: reserve tickets once, then move a bounded batch in random-score order.
local pb, pr, pm
if startsAt >= 0 and now >= startsAt then
  local m = redis.call('HMGET', KEYS[5], 'pb', 'pr', 'pm')
  if m[1] == false then
    pb = tonumber(redis.call('GET', KEYS[6]) or '0')
    pr = redis.call('ZCARD', KEYS[2])
    pm = 0
    if pr > 0 then redis.call('INCRBY', KEYS[6], pr) end
    redis.call('HSET', KEYS[5], 'pb', pb, 'pr', pr, 'pm', 0)
  else
    pb, pr, pm = tonumber(m[1]), tonumber(m[2]), tonumber(m[3])
  end
  local popped = redis.call('ZPOPMIN', KEYS[2], moveMax)
  if #popped > 0 then
    local line, beats = {}, {}
    local deadline = now + maxPoll + timeout
    for i = 1, #popped, 2 do
      pm = pm + 1
      line[#line + 1] = pb + pm
      line[#line + 1] = popped[i]
      beats[#beats + 1] = deadline
      beats[#beats + 1] = pb + pm
    end
    batched('ZADD', KEYS[1], line)
    batched('ZADD', KEYS[7], beats)
    redis.call('HSET', KEYS[5], 'pm', pm)
  end
end

-- 4. Join times: one sample per tick (ticket counter -> now) whenever the counter moved, so the
-- ticket t joined at or before the time of the first sample >= t (exact to one tick; pre-queue
-- tickets, reserved at startsAt, date from the first tick after it).
local counter = tonumber(redis.call('GET', KEYS[6]) or '0')
if counter > (tonumber(set[5]) or 0) then
  redis.call('ZADD', KEYS[8], counter, now)
  redis.call('HSET', KEYS[5], 'jc', counter)
  if redis.call('ZCARD', KEYS[8]) > 4096 then redis.call('ZPOPMIN', KEYS[8]) end
end

-- 5. Admit, never above maxActive (a lowered maxActive admits nobody until the active drain; nobody
-- is evicted for it): FIFO from the head, or random picks. While pre-queue arrivals are still being
-- moved, only tickets already moved may pass, in ticket order (the moved pre-queue is shuffled).
local admitted = {}
local free = maxActive - redis.call('ZCARD', KEYS[3])
local n = math.min(admitPerTick, free)
if paused then n = 0 end
local waits = {}
if n > 0 then
  local head
  local sorted = true
  if pb and redis.call('ZCARD', KEYS[2]) > 0 then
    head = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', pb + pm, 'WITHSCORES', 'LIMIT', 0, n)
    local users = {}
    for i = 1, #head, 2 do users[#users + 1] = head[i] end
    batched('ZREM', KEYS[1], users)
  elseif order == 'random' then
    -- The server's own randomness (math.random is seeded the same in every script before Redis 7).
    head = redis.call('ZRANDMEMBER', KEYS[1], n, 'WITHSCORES')
    local users = {}
    for i = 1, #head, 2 do users[#users + 1] = head[i] end
    batched('ZREM', KEYS[1], users)
    sorted = false
  else
    head = redis.call('ZPOPMIN', KEYS[1], n) -- the head, without a search per user
  end
  local expiresAt = now + activeTtl
  local deadlines, records, tickets = {}, {}, {}
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
    tickets[#tickets + 1] = tonumber(head[i + 1])
  end
  batched('ZADD', KEYS[3], deadlines)
  batched('HSET', KEYS[4], records)
  batched('ZREM', KEYS[7], tickets)
  -- Each admitted ticket's wait, from its join-time sample (walking the samples in ticket order).
  if #tickets > 0 then
    if not sorted then table.sort(tickets) end
    local lo, hi = tickets[1], tickets[#tickets]
    local samples = redis.call('ZRANGEBYSCORE', KEYS[8], lo, hi, 'WITHSCORES')
    if #samples == 0 or tonumber(samples[#samples]) < hi then
      local after = redis.call('ZRANGEBYSCORE', KEYS[8], '(' .. hi, '+inf', 'WITHSCORES', 'LIMIT',
        0, 1)
      samples[#samples + 1], samples[#samples + 2] = after[1], after[2]
    end
    local at, log2 = 1, math.log(2)
    for _, tk in ipairs(tickets) do
      while samples[at + 1] and tonumber(samples[at + 1]) < tk do at = at + 2 end
      local wait = now - (tonumber(samples[at]) or now)
      local bin = 0
      if wait >= 1 then bin = math.floor(4 * math.log(wait) / log2) + 1 end
      waits[bin] = (waits[bin] or 0) + 1
    end
  end
end

-- 6. Counters over 10-second buckets in a ring of 8: q<i> the bucket, r<i> its admissions, x<i> the
-- abandons (left + evicted) counted before its first tick. The last minute's sums (buckets b-5..b,
-- i.e. 50-60 s) are computed here only, and stored: 'rate' (stats.lua; visit.lua's ETAs use
-- 'pace', step 8) and 'abandonRate' (stats.lua). The wait histogram keeps the same buckets.
local nAdmitted = #admitted / 3
local b = math.floor(now / 10000)
local bs = b % 8
local f = {'leftTotal', 'evictedTotal'}
for i = 0, 7 do f[#f + 1] = 'q' .. i; f[#f + 1] = 'r' .. i; f[#f + 1] = 'x' .. i end
local v = redis.call('HMGET', KEYS[5], unpack(f))
local abandoned = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
local q, r, x = {}, {}, {}
for i = 0, 7 do
  q[i], r[i], x[i] = tonumber(v[3 * i + 3]), tonumber(v[3 * i + 4]) or 0, tonumber(v[3 * i + 5])
end
if q[bs] ~= b then
  q[bs], r[bs], x[bs] = b, 0, abandoned
  redis.call('HSET', KEYS[5], 'q' .. bs, b, 'r' .. bs, 0, 'x' .. bs, abandoned)
  local old = {}
  for _, field in ipairs(redis.call('HKEYS', KEYS[9])) do
    if tonumber(string.match(field, '^(%d+):')) < b - 5 then old[#old + 1] = field end
  end
  batched('HDEL', KEYS[9], old)
end
if nAdmitted > 0 then
  r[bs] = r[bs] + nAdmitted
  redis.call('HINCRBY', KEYS[5], 'admittedTotal', nAdmitted)
  redis.call('HINCRBY', KEYS[5], 'r' .. bs, nAdmitted)
  for bin, count in pairs(waits) do redis.call('HINCRBY', KEYS[9], b .. ':' .. bin, count) end
end
if #evicted > 0 then
  redis.call('HINCRBY', KEYS[5], 'evictedTotal', #evicted)
  abandoned = abandoned + #evicted
end
local rate, base, baseBucket = 0, abandoned, b + 1
for i = 0, 7 do
  if q[i] and q[i] >= b - 5 then
    rate = rate + r[i]
    if x[i] and q[i] < baseBucket then base, baseBucket = x[i], q[i] end
  end
end
redis.call('HSET', KEYS[5], 'rate', rate, 'abandonRate', abandoned - base)

-- 7. The lowest ticket still waiting: join-time samples below it are nobody's any more.
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local serving = 0
if first[2] then serving = tonumber(first[2]) end
local lowest = first[2] and serving or counter + 1
if pb and pm < pr then lowest = math.min(lowest, pb + pm + 1) end
redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', '(' .. lowest)
local waiting = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])

-- 8. The pace of visit.lua's ETAs ('pace', admissions per minute): the admissions of the buckets
-- above over the current streak of admitting ('as': from the first round after one that ended
-- paused or with nobody waiting) or over the buckets' span, whichever is shorter. Right after a
-- start, a resume or a quiet spell, the last minute says nothing about the pace to come (it would
-- tell a waiter to come back long after its turn), so for the streak's first 10 s the pace is 0:
-- visit.lua then assumes the full pace (admitPerTick per tickMs), which can only shorten ETAs.
-- Written only when it changes (an idle room writes nothing).
local since, pace = tonumber(set[6]), tonumber(set[7]) or 0
if paused or waiting == 0 then
  if since then redis.call('HDEL', KEYS[5], 'as', 'pace') end
elseif not since then
  redis.call('HSET', KEYS[5], 'as', now, 'pace', 0)
else
  local next = 0
  if now - since >= 10000 then
    next = rate * 60000 / (now - math.max(since, (b - 5) * 10000))
  end
  if next ~= pace then redis.call('HSET', KEYS[5], 'pace', next) end
end
return {1, tick, now, serving, waiting, redis.call('ZCARD', KEYS[3]), admitted, evicted, expired,
  paused and 1 or 0, maxActive, admitPerTick, order}
