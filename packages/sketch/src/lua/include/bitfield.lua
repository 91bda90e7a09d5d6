-- Include (see luaScript's `includes`): batched BITFIELD reads and writes, and the Bloom bit-set.
-- Scripts read every counter/bit they need in a few BITFIELD_RO calls, work on a Lua table (so
-- items later in a batch see the updates of earlier ones, exactly as if applied one by one), then
-- write back only what changed in a few BITFIELD calls.
-- Provides SK_BF_BATCH, sk_bf_write, sk_bf_create, sk_bf_read_list, sk_bf_read, sk_bf_run and
-- sk_bf_set_bits (each described below).

-- BITFIELD subcommands per call: unpack() in Redis' Lua is limited to about 8000 values.
local SK_BF_BATCH = 1500

-- Write `changed` (offset → value) with SET subcommands of type `ftype`; `tail` (a list, may be
-- empty) is appended to the last BITFIELD call, e.g. to add to the sketch's total in the same call.
local function sk_bf_write(key, ftype, changed, tail)
  local args = {}
  local n = 0
  for off, v in pairs(changed) do
    args[n + 1] = 'SET'
    args[n + 2] = ftype
    args[n + 3] = off
    args[n + 4] = v
    n = n + 4
    if n >= SK_BF_BATCH * 4 then
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
local function sk_bf_create(key, bytes)
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
local function sk_bf_read_list(key, ftype, list, head)
  local values = {}
  local h = #head
  local count = #list
  if count == 0 then
    if h == 0 then return values, {} end
    return values, redis.call('BITFIELD_RO', key, unpack(head))
  end
  local head_values = {}
  for start = 1, count, SK_BF_BATCH do
    local last = math.min(count, start + SK_BF_BATCH - 1)
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

-- sk_bf_read_list for the distinct offsets in `offsets` (a set: offset → true), e.g. when many of an
-- item batch's counters coincide.
local function sk_bf_read(key, ftype, offsets, head)
  local list = {}
  for off in pairs(offsets) do list[#list + 1] = off end
  return sk_bf_read_list(key, ftype, list, head)
end

-- Run `args` (a flat list of BITFIELD subcommands, 4 values each) in calls of at most SK_BF_BATCH
-- subcommands, `tail` appended to the last call.
local function sk_bf_run(key, args, tail)
  local count = #args
  local per = SK_BF_BATCH * 4
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

-- Set one item's Bloom bits, at the positions args[from..to], in `bits` (position → 0/1, as read
-- by sk_bf_read_list), appending a BITFIELD `SET u1 <position> 1` to `sets` (n values so far) for
-- each bit that was 0. Returns true when a bit was 0 (the item is new), and the new n.
local function sk_bf_set_bits(bits, args, from, to, sets, n)
  local new = false
  for h = from, to do
    local p = args[h]
    if bits[p] == 0 then
      new = true
      bits[p] = 1
      sets[n + 1] = 'SET'
      sets[n + 2] = 'u1'
      sets[n + 3] = p
      sets[n + 4] = 1
      n = n + 4
    end
  end
  return new, n
end
