-- Something for a user of another node (a private message) goes into that node's inbox
-- (docs/CLUSTER.md, "Feeds"): published only while the user is still connected through it.
-- KEYS[1] the recipient's record. ARGV[1] the recipient's id, ARGV[2] its node (whose inbox
-- the feed's keys are), ARGV[3] the event's kind, ARGV[4] the recipient's nick, ARGV[5] the
-- body.
-- Returns {'sent', the event's id} (a private message's id), or {'gone', 0} when the user is
-- no longer connected through that node.
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[2] then
  return {'gone', 0}
end
local id = publish_event(ARGV[3], ARGV[1], ARGV[4], ARGV[5])
return {'sent', id}
