-- A user takes a new nick: the claim moves, the record follows. Refused, changing nothing, if
-- the user no longer holds its old nick as the node believed ('stale') or someone else holds
-- the new one ('taken'). A change of case only keeps the one claim.
-- KEYS[1] the old nick's claim, KEYS[2] the new nick's, KEYS[3] the user's record.
-- ARGV[1] the user's id, ARGV[2] the new nick as the user wrote it, ARGV[3] folded.
-- Returns 'renamed', 'stale' or 'taken'.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'stale'
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then
  return 'taken'
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'nick', ARGV[2], 'folded', ARGV[3])
publish_change(KEYS[3], 'renamed', ARGV[1], ARGV[2], '')
return 'renamed'
