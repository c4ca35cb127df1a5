-- Ends an unregistered room's lifetime: deletes its history below the floor and remembers
-- the floor (never lowering it), so that a message of that lifetime still on its way is
-- not stored (append.lua).
-- KEYS[1] the room's history, KEYS[2] the message count, KEYS[3] the floors,
-- KEYS[4] the floors by when they were set.
-- ARGV[1] the room key, ARGV[2] the floor, ARGV[3] now (ms), ARGV[4] the prefix of message
-- keys. Returns how many messages were deleted.
local deleted = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])) do
  deleted = deleted + forget(ARGV[4] .. id, id, KEYS[2])
end
local old = redis.call('HGET', KEYS[3], ARGV[1])
if not old or tonumber(old) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return deleted
