-- Releases up to ARGV[3] users of a node that is gone (its lease lapsed, or an earlier
-- incarnation of the node calling): their nicks' claims (where still theirs), their records
-- their places in the sets and their rooms' memberships, as if each had disconnected, each with a 'released' event on
-- the state feed. Called until it returns 0, so that
-- no single call keeps Redis busy for long.
-- Once the node has no users left and its lease has lapsed (it is not the caller's own earlier
-- incarnation), the node itself goes: its record and its place in the set of nodes.
-- KEYS[1] the node's users, KEYS[2] the set of connected users, KEYS[3] the set of nodes,
-- KEYS[4] the node's lease, KEYS[5] its record. ARGV[1] the prefix of user records, ARGV[2]
-- the prefix of nick claims, ARGV[3] how many at most, ARGV[4] the node's name, ARGV[5] the
-- set of open rooms, ARGV[6] the prefix of rooms' keys.
-- Returns {how many were released, how many the node still has}.
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local record = ARGV[1] .. id
  local folded, nick = unpack(redis.call('HMGET', record, 'folded', 'nick'))
  if folded and redis.call('GET', ARGV[2] .. folded) == id then
    redis.call('DEL', ARGV[2] .. folded)
  end
  redis.call('DEL', record)
  leave_every_room(id, ARGV[1], ARGV[5], ARGV[6])
  if redis.call('SREM', KEYS[2], id) == 1 then
    publish_event('released', id, nick or '', '')
  end
end
local left = redis.call('SCARD', KEYS[1])
if left == 0 and redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('DEL', KEYS[5])
  redis.call('SREM', KEYS[3], ARGV[4])
end
return {#ids, left}
