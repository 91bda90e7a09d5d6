-- Close a room: delete every key it owns, then leave only the meta hash with a 'closed' field,
-- expiring after the given time, so every instance refuses joins until then.
-- KEYS[1..n] every key of the room; KEYS[1] is the meta hash
-- ARGV[1] ttl ms of the closed marker
-- Returns the number of keys deleted.
local deleted = redis.call('DEL', unpack(KEYS))
redis.call('HSET', KEYS[1], 'closed', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return deleted
