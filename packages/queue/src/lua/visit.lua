-- join / heartbeat / status of one user, in one round trip. The hot paths (a waiter refreshing its
-- place, a new arrival) make few calls: this script runs for every poll of every waiting browser.
-- KEYS[1]  waiting ZSET   user -> ticket (FIFO by ticket)
-- KEYS[2]  pre-queue ZSET user -> random score (arrivals before startsAt)
-- KEYS[3]  active ZSET    user -> deadline ms (expiresAt + grace)
-- KEYS[4]  active HASH    user -> "expiresAt|jti"
-- KEYS[5]  meta HASH      ring generations g0..g7, pre-queue cursor pb/pr/pm, rate (set by tick),
--                          closed (set by close.lua, then the only field, with a TTL)
-- KEYS[6]  ticket counter STRING
-- KEYS[7..14] heartbeat generation SETs h0..h7 (tickets), a ring indexed by floor(now/genMs) % 8
-- ARGV[1]  user (the encoded user id)
-- ARGV[2]  mode: 'j' join (enqueue if absent + heartbeat), 'h' heartbeat, 's' status (read-only)
-- ARGV[3]  genMs (heartbeat generation width)
-- ARGV[4]  opensAt ms, or -1 without pre-queue
-- ARGV[5]  startsAt ms, or -1 without pre-queue
-- ARGV[6]  random score in [0, 1) for a pre-queue arrival
-- Returns {0, now} unknown | {-1, now} closed | {-2, now} pre-queue not open yet
--       | {2, now, expiresAt, jti} active
--       | {1, now, position, total, ticket, inPreQueue 0/1, admittedLastMinute}

local user, mode = ARGV[1], ARGV[2]
local genMs = tonumber(ARGV[3])
local opensAt, startsAt = tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local g = math.floor(now / genMs)
local slot = g % 8
local meta = redis.call('HMGET', KEYS[5], 'g' .. slot, 'rate', 'pb', 'pr', 'pm', 'closed')
if meta[6] then
  if mode == 'j' then return {-1, now} end
  return {0, now}
end
local rate = tonumber(meta[2]) or 0
local pre = startsAt >= 0
local pb, pr, pm

local function stamp()
  if tonumber(meta[1]) ~= g then
    redis.call('HSET', KEYS[5], 'g' .. slot, g)
    meta[1] = g
  end
end

if pre and now >= startsAt then
  if meta[3] == false then
    -- First call after startsAt: reserve the tickets right after the counter for everyone in the
    -- pre-queue, so later arrivals are always behind them.
    pb = tonumber(redis.call('GET', KEYS[6]) or '0')
    pr = redis.call('ZCARD', KEYS[2])
    pm = 0
    if pr > 0 then redis.call('INCRBY', KEYS[6], pr) end
    redis.call('HSET', KEYS[5], 'pb', pb, 'pr', pr, 'pm', 0)
  else
    pb, pr, pm = tonumber(meta[3]), tonumber(meta[4]), tonumber(meta[5])
  end
end

local function pending(ticket)
  if not pb or ticket <= pb + pr then return 0 end
  return redis.call('ZCARD', KEYS[2])
end

-- Waiting: refresh the heartbeat generation; move between generation sets only when it changed.
local ticket = redis.call('ZSCORE', KEYS[1], user)
if ticket then
  ticket = tonumber(ticket)
  if mode ~= 's' then
    stamp()
    if redis.call('SADD', KEYS[7 + slot], ticket) == 1 then
      for i = 0, 7 do
        if i ~= slot then redis.call('SREM', KEYS[7 + i], ticket) end
      end
    end
  end
  local ahead = pending(ticket)
  local total = redis.call('ZCARD', KEYS[1])
  if pre then total = total + redis.call('ZCARD', KEYS[2]) end
  return {1, now, redis.call('ZRANK', KEYS[1], user) + 1 + ahead, total, ticket, 0, rate}
end

-- Active.
local rec = redis.call('HGET', KEYS[4], user)
if rec then
  local deadline = tonumber(redis.call('ZSCORE', KEYS[3], user))
  if deadline and deadline > now then
    local sep = string.find(rec, '|', 1, true)
    return {2, now, tonumber(string.sub(rec, 1, sep - 1)), string.sub(rec, sep + 1)}
  end
  if mode == 's' then return {0, now} end
  -- Past its deadline but not yet swept by a tick: the slot is gone; a join queues again.
  redis.call('HDEL', KEYS[4], user)
  redis.call('ZREM', KEYS[3], user)
  if mode == 'h' then return {0, now} end
end

-- Pre-queue.
if pre then
  local prank = redis.call('ZRANK', KEYS[2], user)
  if prank == false and mode == 'j' and now < startsAt then
    if now < opensAt then return {-2, now} end
    redis.call('ZADD', KEYS[2], ARGV[6], user)
    prank = redis.call('ZRANK', KEYS[2], user)
  end
  if prank ~= false then
    local ahead = 0
    if pb then ahead = redis.call('ZCOUNT', KEYS[1], '-inf', pb + pm) end
    local total = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
    return {1, now, ahead + prank + 1, total, 0, 1, rate}
  end
end

-- New arrival: the highest ticket, so last in the line (behind a pre-queue still being moved).
if mode ~= 'j' then return {0, now} end
ticket = redis.call('INCR', KEYS[6])
redis.call('ZADD', KEYS[1], ticket, user)
stamp()
redis.call('SADD', KEYS[7 + slot], ticket)
local inLine = redis.call('ZCARD', KEYS[1])
local preCount = 0
if pre then preCount = redis.call('ZCARD', KEYS[2]) end
local position = inLine
if pb and ticket > pb + pr then position = inLine + preCount end
return {1, now, position, inLine + preCount, ticket, 0, rate}
