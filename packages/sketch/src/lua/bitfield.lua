-- Shared helpers, prepended to the scripts that use them (see the luaScript(...) calls in TypeScript).
-- Scripts read every counter/bit they need in a few BITFIELD_RO calls, work on a Lua table (so
-- items later in a batch see the updates of earlier ones, exactly as if applied one by one), then
-- write back only what changed in a few BITFIELD calls.

-- BITFIELD subcommands per call: unpack() in Redis' Lua is limited to about 8000 values.
local BATCH = 1500

-- Write `changed` (offset → value) with SET subcommands of type `ftype`; `tail` (a list, may be
-- empty) is appended to the last BITFIELD call, e.g. to add to the sketch's total in the same call.
local function bf_write(key, ftype, changed, tail)
  local args = {}
  local n = 0
  for off, v in pairs(changed) do
    args[n + 1] = 'SET'
    args[n + 2] = ftype
    args[n + 3] = off
    args[n + 4] = v
    n = n + 4
    if n >= BATCH * 4 then
      redis.call('BITFIELD', key, unpack(args))
      args = {}
      n = 0
    end
  end
  for j = 1, #tail do args[n + j] = tail[j] end
  if n + #tail > 0 then return redis.call('BITFIELD', key, unpack(args)) end
end

-- Create `key` as `bytes` zero bytes unless it exists, allocated once at its final size: growing a
-- string below 1 MiB with BITFIELD/SETBIT over-allocates up to 2×. Returns true if it was created.
local function bf_create(key, bytes)
  if redis.call('EXISTS', key) == 1 then return false end
  if bytes <= 8388608 then
    redis.call('SET', key, string.rep('\0', bytes))
  else
    redis.call('SETBIT', key, bytes * 8 - 1, 0)
  end
  return true
end

-- Read the fields at `list` (offsets in order, duplicates allowed) of type `ftype` into a table
-- offset → value. `head` (a list of GET subcommands, may be empty) is read in the first call; its
-- results are returned second.
local function bf_read_list(key, ftype, list, head)
  local values = {}
  local h = #head
  local count = #list
  if count == 0 then
    if h == 0 then return values, {} end
    return values, redis.call('BITFIELD_RO', key, unpack(head))
  end
  local head_values = {}
  for start = 1, count, BATCH do
    local last = math.min(count, start + BATCH - 1)
    local args = {}
    local n = 0
    if start == 1 then
      for j = 1, h do args[j] = head[j] end
      n = h
    end
    for j = start, last do
      args[n + 1] = 'GET'
      args[n + 2] = ftype
      args[n + 3] = list[j]
      n = n + 3
    end
    local res = redis.call('BITFIELD_RO', key, unpack(args))
    local skip = 0
    if start == 1 then
      skip = h / 3
      for j = 1, skip do head_values[j] = res[j] end
    end
    for j = start, last do values[list[j]] = res[skip + j - start + 1] end
  end
  return values, head_values
end

-- bf_read_list for the distinct offsets in `offsets` (a set: offset → true), e.g. when many of an
-- item batch's counters coincide.
local function bf_read(key, ftype, offsets, head)
  local list = {}
  for off in pairs(offsets) do list[#list + 1] = off end
  return bf_read_list(key, ftype, list, head)
end

-- Run `args` (a flat list of BITFIELD subcommands, 4 values each) in calls of at most BATCH
-- subcommands, `tail` appended to the last call.
local function bf_run(key, args, tail)
  local count = #args
  local per = BATCH * 4
  local start = 1
  while count - start + 1 > per do
    redis.call('BITFIELD', key, unpack(args, start, start + per - 1))
    start = start + per
  end
  local last = {}
  for j = start, count do last[#last + 1] = args[j] end
  for j = 1, #tail do last[#last + 1] = tail[j] end
  if #last > 0 then redis.call('BITFIELD', key, unpack(last)) end
end
