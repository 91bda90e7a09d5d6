-- join / heartbeat / status of a batch of users (the calls one WaitingRoom made in the same tick of
-- the event loop), in one round trip, atomically, in call order. This runs for every poll of every
-- waiting browser, so the per-user hot paths make few calls: everyone's ticket (ZMSCORE) and
-- heartbeat generation (SMISMEMBER) are read once per batch, and new arrivals are written with one
-- ZADD and one SADD per batch; then a waiter refreshing its place costs one ZRANK, a new arrival one
-- HGET (is it active?). TIME, the meta HMGET, the cardinalities and the ticket counter are read
-- once per batch. Needs Redis >= 6.2 (ZMSCORE, SMISMEMBER).
-- In-batch writes are deferred safely: new tickets are above every ticket in the line, so they
-- never change the ZRANK of a waiter already there, and nothing in a batch removes from the line.
-- Includes: now-ms.lua (internal: bo_now_ms), ring.lua (q_reuse_slot: heartbeat ring slots).
-- KEYS[1]  waiting ZSET   user -> ticket (FIFO by ticket)
-- KEYS[2]  pre-queue ZSET user -> random score (arrivals before startsAt)
-- KEYS[3]  active ZSET    user -> deadline ms (expiresAt + grace)
-- KEYS[4]  active HASH    user -> "expiresAt|jti"
-- KEYS[5]  meta HASH      ring generations g0..g7, pre-queue cursor pb/pr/pm, rate (set by tick),
--                          closed (set by close.lua, then the only field, with a TTL)
-- KEYS[6]  ticket counter STRING
-- KEYS[7..14] heartbeat generation SETs h0..h7 (tickets), a ring indexed by floor(now/genMs) % 8
-- KEYS[15] retired SET    tickets of a reused ring slot, evicted by the next tick (ring.lua)
-- ARGV[1]  genMs (heartbeat generation width)
-- ARGV[2]  opensAt ms, or -1 without pre-queue
-- ARGV[3]  startsAt ms, or -1 without pre-queue
-- ARGV[4]  modes, one character per call (k calls): 'j' join (enqueue if absent + heartbeat),
--          'h' heartbeat, 's' status (read-only)
-- ARGV[5 .. 4+k]  the users (encoded user ids), one per call
-- ARGV[5+k .. 4+2k]  with a pre-queue only: random scores in [0, 1) for pre-queue arrivals
-- Returns {now, admittedLastMinute, paused (1|0), then four values per call, in call order (flat:
--         no table per call):  0, 0, 0, 0 unknown | -1, 0, 0, 0 closed | -2, 0, 0, 0 pre-queue not open yet
--       | 2, expiresAt, jti, 0 active
--       | 1, position, total, ticket waiting in the line
--       | 3, position, total, 0 waiting in the pre-queue}

local genMs = tonumber(ARGV[1])
local opensAt, startsAt = tonumber(ARGV[2]), tonumber(ARGV[3])
local modes = ARGV[4]
local k = #modes
local sub = string.sub
local now = bo_now_ms()
local out, n = {now, 0, 0}, 3
local function put(code, a, b, c)
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = code, a, b, c
  n = n + 4
end

local g = math.floor(now / genMs)
local slot = g % 8
local hk = KEYS[7 + slot]
local meta = redis.call('HMGET', KEYS[5], 'g' .. slot, 'rate', 'pb', 'pr', 'pm', 'closed', 'paused')
if meta[6] then
  for j = 1, k do
    if sub(modes, j, j) == 'j' then put(-1, 0, 0, 0) else put(0, 0, 0, 0) end
  end
  return out
end
out[2] = tonumber(meta[2]) or 0
if meta[7] == '1' then out[3] = 1 end
local pre = startsAt >= 0

-- The first join or heartbeat of a generation takes its ring slot over (before anyone's membership
-- is read); a batch of status reads alone writes nothing.
if tonumber(meta[1]) ~= g and string.find(modes, '[jh]') then
  q_reuse_slot(KEYS[5], slot, hk, KEYS[15], g)
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
  if meta[3] == false then
    -- First call after startsAt: reserve the tickets right after the counter for everyone in the
    -- pre-queue, so later arrivals are always behind them.
    pb = tonumber(redis.call('GET', KEYS[6]) or '0')
    pr = preCount()
    pm = 0
    if pr > 0 then redis.call('INCRBY', KEYS[6], pr) end
    redis.call('HSET', KEYS[5], 'pb', pb, 'pr', pr, 'pm', 0)
  else
    pb, pr, pm = tonumber(meta[3]), tonumber(meta[4]), tonumber(meta[5])
  end
end

-- Everyone's ticket in the line, and whether returning waiters are in the current generation.
local tickets = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 5, 4 + k))
local beat, nb = {}, 0
for j = 1, k do
  if tickets[j] and sub(modes, j, j) ~= 's' then
    nb = nb + 1
    beat[nb] = tickets[j]
  end
end
local current = {}
if nb > 0 then
  local member = redis.call('SMISMEMBER', hk, unpack(beat))
  for k = 1, nb do
    if member[k] == 1 then current[beat[k]] = true end
  end
end

-- New arrivals of this batch (written at the end): user -> {ticket, position}.
local fresh, freshArgs, freshTickets = {}, {}, {}

local function visit(j, user, mode, score)
  -- Waiting: refresh the heartbeat generation; move between generation sets only when it changed.
  local f = fresh[user]
  if f then return put(1, f[2], lineCount() + preCount(), f[1]) end
  local ticket = tickets[j]
  if ticket then
    if mode ~= 's' then
      if not current[ticket] then
        current[ticket] = true
        if redis.call('SADD', hk, ticket) == 1 then
          -- A ticket is in at most one generation set, most likely a recent one: newest first;
          -- in none of them only when it was retired (a waiter back after a long silence).
          local found = false
          for d = 1, 7 do
            if redis.call('SREM', KEYS[7 + (slot - d) % 8], ticket) == 1 then
              found = true
              break
            end
          end
          if not found then redis.call('SREM', KEYS[15], ticket) end
        end
      end
    end
    ticket = tonumber(ticket)
    local ahead = 0
    if pb and ticket > pb + pr then ahead = preCount() end
    return put(1, redis.call('ZRANK', KEYS[1], user) + 1 + ahead, lineCount() + preCount(), ticket)
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

  -- Pre-queue.
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
      return put(3, ahead + prank + 1, lineCount() + preCount(), 0)
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
  freshTickets[#freshTickets + 1] = ticket
  return put(1, position, wCard + preCount(), ticket)
end

for j = 1, k do
  visit(j, ARGV[4 + j], sub(modes, j, j), ARGV[4 + k + j])
end
if added > 0 then
  redis.call('ZADD', KEYS[1], unpack(freshArgs))
  redis.call('SADD', hk, unpack(freshTickets))
  redis.call('INCRBY', KEYS[6], added)
end
return out
