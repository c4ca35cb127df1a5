-- Something for a user of another node (a private message, a kill, a logout, a read marker, a
-- deletion) goes into that node's inbox (docs/CLUSTER.md, "Feeds"): published only while the
-- user is still connected through it. A private message is stored in the history in the same
-- step (`store_message.lua`), with the id and time only this script knows.
-- KEYS[1] the recipient's record, KEYS[2] the call's nonce: a call sent again (its answer lost,
-- its connection dropped) finds there what the first one published, and publishes nothing
-- more, for ARGV[6] milliseconds. ARGV[1] the recipient's id, ARGV[2] its node (whose inbox
-- the feed's keys are), ARGV[3] the event's kind, ARGV[4] the recipient's nick, ARGV[5] the
-- body. For a message kept in history, KEYS[3] the message count and KEYS[4] the history
-- floors; ARGV[7] the prefix of message keys, ARGV[8] the message's JSON after its id and
-- time, ARGV[9] its target key and ARGV[10] its indexes.
-- Returns {'sent', the event's id} (a private message's id), or {'gone', 0} when the user is
-- no longer connected through that node.
local done = redis.call('GET', KEYS[2])
if done then
  return {'sent', tonumber(done)}
end
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[2] then
  return {'gone', 0}
end
local id = publish_event(ARGV[3], ARGV[1], ARGV[4], ARGV[5])
redis.call('SET', KEYS[2], string.format('%.0f', id), 'PX', ARGV[6])
if ARGV[7] then
  store_published(ARGV[7], KEYS[4], KEYS[3], id, ARGV[8], ARGV[9], ARGV[10])
end
return {'sent', id}
