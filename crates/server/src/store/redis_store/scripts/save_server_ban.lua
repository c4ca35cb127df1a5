-- Sets a server ban, replacing one on the same target, and orders it after every ban saved
-- before it. KEYS[1] the bans, KEYS[2] the counter ordering them; ARGV[1] the target, ARGV[2]
-- the record (a JSON object without its order, which is put first in it). Returns the order.
local order = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], '{"order":' .. order .. ',' .. string.sub(ARGV[2], 2))
return order
