-- End a claimed expiry: mark it expired after onExpire succeeded, or give the claim up after it
-- failed (so a retry can claim it at once).
-- KEYS[1] hold record, KEYS[2] due index
-- ARGV[1] holdId, ARGV[2] claimer id, ARGV[3] '1' = succeeded, '0' = failed, ARGV[4] keepMs
-- Returns 1 when recorded, 0 when the claim was no longer ours (it lapsed and was taken over).
local rec = KEYS[1]
if redis.call('HGET', rec, 'state') ~= 'expiring' or redis.call('HGET', rec, 'claimer') ~= ARGV[2] then
  return 0
end
if ARGV[3] == '1' then
  redis.call('HSET', rec, 'state', 'expired')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', rec, ARGV[4])
else
  redis.call('HSET', rec, 'claimUntil', 0)
end
return 1
