-- Locks an existing account, or lifts its lock. KEYS[1] the account's hash; ARGV[1] "1" to
-- lock, "0" to lift; to lock, ARGV[2] the time (ms), ARGV[3] by whom, ARGV[4] why.
-- Returns 1 if the account exists.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'locked_at', ARGV[2], 'locked_by', ARGV[3],
    'locked_reason', ARGV[4])
else
  redis.call('HDEL', KEYS[1], 'locked_at', 'locked_by', 'locked_reason')
end
return 1
