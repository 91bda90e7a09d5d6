-- Record a new hold (its seats are already locked) and index it by decision deadline.
-- Includes: now-ms.lua (internal: bo_now_ms, Redis time in ms).
-- KEYS[1] hold record (hash), KEYS[2] due index (zset: holdId -> deadline ms)
-- ARGV[1] holdId, ARGV[2] ttlMs, ARGV[3] graceMs, ARGV[4] resources (JSON), ARGV[5] lease token,
-- ARGV[6] fences (JSON), ARGV[7] data (JSON)
-- Returns {placedAt, expiresAt, deadline} in ms of Redis server time, or 0 if the id exists.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = bo_now_ms()
local expiresAt = now + tonumber(ARGV[2])
local deadline = expiresAt + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'state', 'held', 'resources', ARGV[4], 'token', ARGV[5],
  'fences', ARGV[6], 'data', ARGV[7], 'placedAt', now, 'expiresAt', expiresAt,
  'deadline', deadline, 'runs', 0)
redis.call('ZADD', KEYS[2], deadline, ARGV[1])
return {now, expiresAt, deadline}
