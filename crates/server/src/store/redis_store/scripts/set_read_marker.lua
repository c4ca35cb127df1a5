-- Moves a read marker forward (never back), keeping an account's newest markers only.
-- KEYS[1] the account's markers, KEYS[2] their targets' names.
-- ARGV[1] the target key, ARGV[2] its name, ARGV[3] the marker (ms), ARGV[4] the most kept.
-- Returns {the marker now stored, 1 if it changed}.
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if old and tonumber(old) >= tonumber(ARGV[3]) then
  return {old, 0}
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if extra > 0 then
  for _, target in ipairs(redis.call('ZRANGE', KEYS[1], 0, extra - 1)) do
    redis.call('ZREM', KEYS[1], target)
    redis.call('HDEL', KEYS[2], target)
  end
end
return {ARGV[3], 1}
