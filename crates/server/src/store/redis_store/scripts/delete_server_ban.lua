-- Lifts a server ban. KEYS[1] the bans; ARGV[1] the target. Returns 1 if there was one.
return redis.call('HDEL', KEYS[1], ARGV[1])
