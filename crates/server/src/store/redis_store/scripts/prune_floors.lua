-- Forgets the floors of room lifetimes that ended before the cutoff, and the oldest beyond
-- the cap (lifetimes.rs: FLOOR_KEEP, MAX_FLOORS).
-- KEYS[1] the floors, KEYS[2] the floors by when they were set.
-- ARGV[1] the cutoff (ms), ARGV[2] the cap.
local forgotten = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
local beyond = redis.call('ZRANGE', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
for _, list in ipairs({forgotten, beyond}) do
  for _, room in ipairs(list) do
    redis.call('HDEL', KEYS[1], room)
    redis.call('ZREM', KEYS[2], room)
  end
end
return 0
