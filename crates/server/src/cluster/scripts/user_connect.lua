-- A user arrives on a node: a cluster-wide user id, the claim on its nick, its record, and its
-- place in the sets of connected users and of the node's users. Refused, changing nothing, if
-- the nick is claimed.
-- KEYS[1] the nick's claim, KEYS[2] the user id counter, KEYS[3] the set of connected users,
-- KEYS[4] the node's users. ARGV[1] the prefix of user records, ARGV[2] the node's name,
-- ARGV[3] the nick as the user wrote it, ARGV[4] folded (as its claim is named), ARGV[5] the
-- body of its state feed event (publish_event.lua), then the record's other fields, name and
-- value.
-- Returns {'connected', id} or {'taken', 0}.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'taken', 0}
end
local id = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], id)
redis.call('HSET', ARGV[1] .. id, 'node', ARGV[2], 'nick', ARGV[3], 'folded', ARGV[4],
  unpack(ARGV, 6))
redis.call('SADD', KEYS[3], id)
redis.call('SADD', KEYS[4], id)
publish_change(ARGV[1] .. id, 'connected', id, ARGV[3], ARGV[5])
return {'connected', id}
