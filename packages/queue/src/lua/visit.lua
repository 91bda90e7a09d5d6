-- join / heartbeat / status of a batch of users (the calls one WaitingRoom made in the same tick of
-- the event loop), in one round trip, atomically, in call order. This runs for every poll of every
-- waiting browser, so the per-user hot paths make few calls: everyone's ticket (ZMSCORE) is read
-- once per batch, and new arrivals and every heartbeat's deadline are written with one ZADD each
-- per batch; then a waiter refreshing its place costs one ZRANK, a new arrival one HGET (is it
-- active?). TIME, the meta HMGET, the cardinalities and the ticket counter are read once per batch.
-- Needs Redis >= 6.2 (ZMSCORE).
-- In-batch writes are deferred safely: new tickets are above every ticket in the line, so they
-- never change the ZRANK of a waiter already there, and nothing in a batch removes from the line.
-- Heartbeats: each waiter is told when to come back (pollAfterMs: a quarter of its ETA, within
-- [tickMs, maxPollAfterMs]), and its deadline is that plus heartbeatTimeoutMs, so a waiter far back
-- polls rarely and nobody who obeys is evicted. Both are computed here only, from the same figures.
-- Includes: now-ms.lua (internal: bo_now_ms).
-- KEYS[1]  waiting ZSET   user -> ticket (FIFO by ticket)
-- KEYS[2]  pre-queue ZSET user -> random score (arrivals before startsAt)
-- KEYS[3]  active ZSET    user -> deadline ms (expiresAt + grace)
-- KEYS[4]  active HASH    user -> "expiresAt|jti"
-- KEYS[5]  meta HASH      pre-queue cursor pb/pr/pm, pace (set by tick), the live settings
--                          admitPerTick/order (configure.lua), paused, closed (set by close.lua,
--                          then the only field, with a TTL)
-- KEYS[6]  ticket counter STRING
-- KEYS[7]  heartbeat ZSET ticket -> deadline ms (a waiter in the line silent past it is evicted;
--                          tickets, not user ids: a third less memory per waiter)
-- ARGV[1]  heartbeatTimeoutMs
-- ARGV[2]  opensAt ms, or -1 without pre-queue
-- ARGV[3]  startsAt ms, or -1 without pre-queue
-- ARGV[4]  modes, one character per call (k calls): 'j' join (enqueue if absent + heartbeat),
--          'h' heartbeat, 's' status (read-only)
-- ARGV[5]  tickMs
-- ARGV[6]  maxPollAfterMs
-- ARGV[7]  admitPerTick (the constructor's; the meta hash's 'admitPerTick' wins)
-- ARGV[8]  order (likewise 'order')
-- ARGV[9 .. 8+k]  the users (encoded user ids), one per call
-- ARGV[9+k .. 8+2k]  with a pre-queue only: random scores in [0, 1) for pre-queue arrivals
-- Returns {now, pace (admissions per minute, 0: not known yet), paused (1|0), then six values per
--         call, in call order (flat: no table per call):
--         0, 0, 0, 0, 0, 0 unknown | -1, ... closed | -2, ... pre-queue not open yet
--       | 2, expiresAt, jti, 0, 0, 0 active
--       | 1, position, total, ticket, etaMs, pollAfterMs waiting in the line
--       | 3, position, total, 0, etaMs, pollAfterMs waiting in the pre-queue}

local timeout = tonumber(ARGV[1])
local opensAt, startsAt = tonumber(ARGV[2]), tonumber(ARGV[3])
local modes = ARGV[4]
local tickMs, maxPoll = tonumber(ARGV[5]), tonumber(ARGV[6])
local k = #modes
local sub = string.sub
local now = bo_now_ms()
local out, n = {now, 0, 0}, 3
local function put(code, a, b, c, eta, after)
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = code, a, b, c
  out[n + 5], out[n + 6] = eta or 0, after or 0
  n = n + 6
end

local meta = redis.call('HMGET', KEYS[5], 'pace', 'pb', 'pr', 'pm', 'closed', 'paused',
  'admitPerTick', 'order')
if meta[5] then
  for j = 1, k do
    if sub(modes, j, j) == 'j' then put(-1, 0, 0, 0) else put(0, 0, 0, 0) end
  end
  return out
end
local pace = tonumber(meta[1]) or 0
out[2] = pace
local paused = meta[6] == '1'
if paused then out[3] = 1 end
local admitPerTick = tonumber(meta[7]) or tonumber(ARGV[7])
local order = meta[8] or ARGV[8]
local pre = startsAt >= 0

-- The ETA (from the pace tick.lua measured, or the full pace while it has none) and when to come
-- back: a quarter of the ETA, at least tickMs; while paused at least a third of the timeout (the
-- place is kept, nothing moves); in a random-order room at most that (anyone may be picked next).
local third = math.min(maxPoll, math.floor(timeout / 3))
local cap = maxPoll
if order == 'random' then cap = third end
local function timing(position)
  local eta
  if pace > 0 then
    eta = math.ceil(position / pace * 60000)
  else
    eta = math.ceil(position / admitPerTick) * tickMs
  end
  if startsAt > now then eta = eta + startsAt - now end
  local after = math.max(tickMs, math.floor(eta / 4))
  if paused then after = math.max(after, third) end
  return eta, math.max(50, math.min(cap, after))
end

-- Read lazily, once per batch, and kept up to date locally.
local counter, added = nil, 0
local function nextTicket()
  if not counter then counter = tonumber(redis.call('GET', KEYS[6]) or '0') end
  counter = counter + 1
  added = added + 1
  return counter
end
local wCard, pCard
local function lineCount()
  if not wCard then wCard = redis.call('ZCARD', KEYS[1]) end
  return wCard
end
local function preCount()
  if not pre then return 0 end
  if not pCard then pCard = redis.call('ZCARD', KEYS[2]) end
  return pCard
end

local pb, pr, pm
if pre and now >= startsAt then
  if meta[2] == false then
    -- First call after startsAt: reserve the tickets right after the counter for everyone in the
    -- pre-queue, so later arrivals are always behind them.
    pb = tonumber(redis.call('GET', KEYS[6]) or '0')
    pr = preCount()
    pm = 0
    if pr > 0 then redis.call('INCRBY', KEYS[6], pr) end
    redis.call('HSET', KEYS[5], 'pb', pb, 'pr', pr, 'pm', 0)
  else
    pb, pr, pm = tonumber(meta[2]), tonumber(meta[3]), tonumber(meta[4])
  end
end

-- Everyone's ticket in the line.
local tickets = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 9, 8 + k))

-- New arrivals of this batch (written at the end): user -> {ticket, position}; and the deadlines
-- of this batch's heartbeats (deadline, ticket, ...: one ZADD at the end, the last one wins).
local fresh, freshArgs = {}, {}
local beats = {}

-- A waiter in the line: its place, and for a join or heartbeat its next deadline.
local function waiting(mode, position, total, ticket)
  local eta, after = timing(position)
  if mode ~= 's' then
    beats[#beats + 1] = now + after + timeout
    beats[#beats + 1] = ticket
  end
  return put(1, position, total, ticket, eta, after)
end

local function visit(j, user, mode, score)
  local f = fresh[user]
  if f then return waiting(mode, f[2], lineCount() + preCount(), f[1]) end
  local ticket = tickets[j]
  if ticket then
    ticket = tonumber(ticket)
    local ahead = 0
    if pb and ticket > pb + pr then ahead = preCount() end
    return waiting(mode, redis.call('ZRANK', KEYS[1], user) + 1 + ahead, lineCount() + preCount(),
      ticket)
  end
  -- Active.
  local rec = redis.call('HGET', KEYS[4], user)
  if rec then
    local deadline = tonumber(redis.call('ZSCORE', KEYS[3], user))
    if deadline and deadline > now then
      local sep = string.find(rec, '|', 1, true)
      return put(2, tonumber(string.sub(rec, 1, sep - 1)), string.sub(rec, sep + 1), 0)
    end
    if mode == 's' then return put(0, 0, 0, 0) end
    -- Past its deadline but not yet swept by a tick: the slot is gone; a join queues again.
    redis.call('HDEL', KEYS[4], user)
    redis.call('ZREM', KEYS[3], user)
    if mode == 'h' then return put(0, 0, 0, 0) end
  end

  -- Pre-queue (no deadline: nobody is evicted from it; tick.lua sets one when it moves them).
  if pre then
    local prank = redis.call('ZRANK', KEYS[2], user)
    if prank == false and mode == 'j' and now < startsAt then
      if now < opensAt then return put(-2, 0, 0, 0) end
      pCard = preCount() + 1
      redis.call('ZADD', KEYS[2], score, user)
      prank = redis.call('ZRANK', KEYS[2], user)
    end
    if prank ~= false then
      local ahead = 0
      if pb then ahead = redis.call('ZCOUNT', KEYS[1], '-inf', pb + pm) end
      local position = ahead + prank + 1
      local eta, after = timing(position)
      return put(3, position, lineCount() + preCount(), 0, eta, after)
    end
  end

  -- New arrival: the highest ticket, so last in the line (behind a pre-queue still being moved).
  if mode ~= 'j' then return put(0, 0, 0, 0) end
  ticket = nextTicket()
  wCard = lineCount() + 1
  local position = wCard
  if pb and ticket > pb + pr then position = wCard + preCount() end
  fresh[user] = {ticket, position}
  freshArgs[#freshArgs + 1] = ticket
  freshArgs[#freshArgs + 1] = user
  return waiting(mode, position, wCard + preCount(), ticket)
end

for j = 1, k do
  visit(j, ARGV[8 + j], sub(modes, j, j), ARGV[8 + k + j])
end
if added > 0 then
  redis.call('ZADD', KEYS[1], unpack(freshArgs))
  redis.call('INCRBY', KEYS[6], added)
end
if #beats > 0 then redis.call('ZADD', KEYS[7], unpack(beats)) end
return out
