-- A message to a room, or a room's topic set (docs/CLUSTER.md, "Rooms as built"): published on
-- the state feed, which orders it among everything else the network shares; its event id is
-- the message's id (and gives its time). A topic is kept in the room's record too, for the
-- nodes that start later; a message kept in history is stored in the same step
-- (`store_message.lua`), with the id and time only this script knows.
-- KEYS[1] the room's members, KEYS[2] the room's record, KEYS[3] the call's nonce: a call sent
-- again (its answer lost, its connection dropped) finds there what the first one published, and
-- publishes nothing more, for ARGV[5] milliseconds. ARGV[1] the sender's id, ARGV[2] its nick,
-- ARGV[3] the event's kind ('said', 'topic' or another room event), ARGV[4] the body.
-- For a topic, ARGV[6] its text (empty: cleared) and ARGV[7] who set it (a mask). For a message
-- kept in history, KEYS[4] the message count and KEYS[5] the history floors; ARGV[6] the prefix
-- of message keys, ARGV[7] the message's JSON after its id and time, ARGV[8] its target key and
-- ARGV[9] its indexes.
-- Returns {'said', the event's sequence, its id}, or {'gone', 0, 0} when the room has no
-- members any more (its lifetime ended).
local done = redis.call('GET', KEYS[3])
if done then
  local sequence, id = string.match(done, '^(%d+) (%d+)$')
  return {'said', tonumber(sequence), tonumber(id)}
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone', 0, 0}
end
local id, sequence = publish_event(ARGV[3], ARGV[1], ARGV[2], ARGV[4])
redis.call('SET', KEYS[3], string.format('%.0f %.0f', sequence, id), 'PX', ARGV[5])
if ARGV[3] == 'topic' then
  if ARGV[6] == '' then
    redis.call('HDEL', KEYS[2], 'topic', 'topic_by', 'topic_at')
  else
    redis.call('HSET', KEYS[2], 'topic', ARGV[6], 'topic_by', ARGV[7],
      'topic_at', string.format('%.0f', id))
  end
elseif ARGV[3] == 'said' and ARGV[6] then
  store_published(ARGV[6], KEYS[5], KEYS[4], id, ARGV[7], ARGV[8], ARGV[9])
end
return {'said', sequence, id}
