-- An active user finished: its slot is freed now (and, with stateful verification, its token revoked).
-- KEYS[1] active ZSET, KEYS[2] active HASH
-- ARGV[1] userId
-- Returns 1 if the user was active, else 0.
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
