-- A user arrives under the next free guest nick (guest_nick.lua): otherwise as
-- user_connect.lua.
-- KEYS[1] the guest counter, KEYS[2] the user id counter, KEYS[3] the set of connected users,
-- KEYS[4] the node's users. ARGV[1] the prefix of user records, ARGV[2] the node's name,
-- ARGV[3] the prefix of nick claims, ARGV[4] the body of its state feed event, then the
-- record's other fields, name and value.
-- Returns {'connected', id, nick} or {'taken', 0, ''}.
local nick = next_free_guest(KEYS[1], ARGV[3])
if not nick then
  return {'taken', 0, ''}
end
local claim = ARGV[3] .. nick
local id = redis.call('INCR', KEYS[2])
redis.call('SET', claim, id)
redis.call('HSET', ARGV[1] .. id, 'node', ARGV[2], 'nick', nick, 'folded', nick, unpack(ARGV, 5))
redis.call('SADD', KEYS[3], id)
redis.call('SADD', KEYS[4], id)
publish_change(ARGV[1] .. id, 'connected', id, nick, ARGV[4])
return {'connected', id, nick}
