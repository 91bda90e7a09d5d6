-- Include (see luaScript's `includes`): fences, which come in blocks of 2^20. A lock taken while
-- free starts a block (INCRBY on the fence counter, so every block is above every earlier one); a
-- release that hands the lock over may give the next holder the releaser's fence + 1 without
-- touching the counter, until the block runs out (see sl_hand_over in handoff.lua).
-- Provides SL_FENCE_STRIDE (the block size) and sl_new_fence(counter) → the first fence of a new
-- block, as a string.
local SL_FENCE_STRIDE = 1048576

local function sl_new_fence(counter)
  return string.format('%.0f', redis.call('INCRBY', counter, SL_FENCE_STRIDE) - SL_FENCE_STRIDE + 1)
end
