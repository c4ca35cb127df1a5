-- Saves a registered room's state if it is registered. KEYS[1] the registered rooms; ARGV[1]
-- the room key, ARGV[2] the record. Returns 1 if registered.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
