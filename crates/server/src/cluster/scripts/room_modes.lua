-- A room's modes change, as a node decided on its replica (docs/CLUSTER.md, "Rooms as
-- built"): made only if the room's rules are still the version the node decided against (no
-- other change of its modes came first), with the room's rules after it kept in its record
-- and the members' new statuses in its members, for the nodes that start later.
-- KEYS[1] the room's members, KEYS[2] the room's record. ARGV[1] the changer's id, ARGV[2] its
-- nick, ARGV[3] the rules version decided against, ARGV[4] the body, ARGV[5] the room's rules
-- after the change (wire.rs's RoomRules), then pairs: a member's id and its new status ('@',
-- '+', '@+' or '').
-- Returns {'said', the event's sequence, its id (the room's new rules version)}, {'gone', 0,
-- 0} when the room has no members any more, or {'stale', the state feed's last sequence, 0}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone', 0, 0}
end
if (redis.call('HGET', KEYS[2], 'rv') or '0') ~= ARGV[3] then
  return {'stale', tonumber(redis.call('GET', feed_sequence) or '0'), 0}
end
local id, sequence = publish_event('modes', ARGV[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[2], 'rv', string.format('%.0f', id), 'rules', ARGV[5])
for i = 6, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return {'said', sequence, id}
