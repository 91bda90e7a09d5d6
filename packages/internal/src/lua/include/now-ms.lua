-- Include (see luaScript's `includes`): Redis server time in whole milliseconds, the clock every
-- deadline a script stores or compares is on (never the caller's clock).
-- Provides bo_now_ms() → ms since the Unix epoch (TIME's seconds × 1000 + microseconds ÷ 1000, floored).
local function bo_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
