-- Count one hit in a fixed window; the first hit of a window starts its expiry.
-- KEYS[1]  the counter of one caller (e.g. bo:ratelimit:{login:127.0.0.1})
-- ARGV[1]  window length in milliseconds
-- Returns  { hits in the current window including this one, milliseconds until the window resets }
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
-- A new counter (ttl -1), or one that lost its expiry somehow: (re)start the window.
if hits == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { hits, ttl }
