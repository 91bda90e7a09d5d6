-- Give a claim up (the handler failed or its result is not cached) so that a retry runs again.
-- Only the current owner can release; a lapsed owner cannot delete a newer owner's claim.
--
-- KEYS[1]  the record (a string)
-- ARGV[1]  owner prefix of the claim ('I' .. token .. '\n')
--
-- Returns 1 when released, 0 when the caller no longer owns the claim.
local key = KEYS[1]
if redis.call('GETRANGE', key, 0, string.len(ARGV[1]) - 1) ~= ARGV[1] then
  return 0
end
redis.call('DEL', key)
return 1
