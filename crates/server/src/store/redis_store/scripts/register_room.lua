-- Registers a room unless it is registered. KEYS[1] the registered rooms; ARGV[1] the room
-- key, ARGV[2] the record. Returns 1 if registered now.
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
