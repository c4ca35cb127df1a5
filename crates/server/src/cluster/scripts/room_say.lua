-- A message to a room, or a room's topic set (docs/CLUSTER.md, "Rooms as built"): published on
-- the state feed, which orders it among everything else the network shares; its event id is
-- the message's id (and gives its time). A topic is kept in the room's record too, for the
-- nodes that start later.
-- KEYS[1] the room's members, KEYS[2] the room's record. ARGV[1] the sender's id, ARGV[2] its
-- nick, ARGV[3] the event's kind ('said' or 'topic'), ARGV[4] the body; for a topic, ARGV[5]
-- its text (empty: cleared) and ARGV[6] who set it (a mask).
-- Returns {'said', the event's sequence, its id}, or {'gone', 0, 0} when the room has no
-- members any more (its lifetime ended).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone', 0, 0}
end
local id, sequence = publish_event(ARGV[3], ARGV[1], ARGV[2], ARGV[4])
if ARGV[3] == 'topic' then
  if ARGV[5] == '' then
    redis.call('HDEL', KEYS[2], 'topic', 'topic_by', 'topic_at')
  else
    redis.call('HSET', KEYS[2], 'topic', ARGV[5], 'topic_by', ARGV[6],
      'topic_at', string.format('%.0f', id))
  end
end
return {'said', sequence, id}
