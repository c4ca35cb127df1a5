-- A user joins a room, as its node decided on its replica (docs/CLUSTER.md, "Rooms as
-- built"): the membership, the room among the open ones and the user's, and the `joined`
-- event. The node saw the room empty or not; if Redis says otherwise (a join or a departure
-- on another node came first), the node catches up and decides again.
-- KEYS[1] the user's record, KEYS[2] the set of open rooms. ARGV[1] the user's id, ARGV[2] its
-- node, ARGV[3] its nick, ARGV[4] the folded room name, ARGV[5] '1' if the node saw the room
-- empty, ARGV[6] the member's status ('@' or ''), ARGV[7] the prefix of user records,
-- ARGV[8] the prefix of rooms' keys, ARGV[9] the body, ARGV[10] the room's name as the joiner
-- wrote it (kept in the room's record, with the join's id as its history's floor, when the
-- join founds it).
-- Returns {outcome, sequence}: 'joined' and the event's sequence number on the state feed;
-- 'member' for a member already, 'gone' for a user no longer connected through the node (0);
-- or 'stale' and the state feed's last sequence, which the node's replica must reach before
-- it decides again.
local id, folded = ARGV[1], ARGV[4]
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[2] then
  return {'gone', 0}
end
local members = ARGV[8] .. folded .. ':members'
if redis.call('HEXISTS', members, id) == 1 then
  return {'member', 0}
end
local empty = redis.call('EXISTS', members) == 0
if empty ~= (ARGV[5] == '1') then
  return {'stale', tonumber(redis.call('GET', feed_sequence) or '0')}
end
redis.call('HSET', members, id, ARGV[6])
redis.call('SADD', ARGV[7] .. id .. ':rooms', folded)
redis.call('SADD', KEYS[2], folded)
local event, sequence = publish_event('joined', id, ARGV[3], ARGV[9])
if empty then
  -- The room's history starts after the join that founded it.
  redis.call('HSET', ARGV[8] .. folded, 'name', ARGV[10], 'floor', string.format('%.0f', event))
end
return {'joined', sequence}
