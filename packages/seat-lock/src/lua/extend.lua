-- Extend the locks of one slot group, only if `token` still owns every one of them.
-- KEYS[i] lock key, for resource i = 1..n
-- ARGV[1] token, ARGV[2] new TTL in ms
-- Returns 1 when all were extended, 0 (and nothing changed) when any is not owned by `token`.
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then return 0 end
end
for i = 1, #KEYS do
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
