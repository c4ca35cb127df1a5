-- Publishing an event on a feed (docs/CLUSTER.md, "Feeds"), prepended after the fence to every
-- script that publishes one: the state feed's, or a node's inbox. The script's last three keys
-- (before the fence's) are the event id counter, the feed's sequence and the feed's stream
-- (whose pub/sub channel has the same name), and its last argument (before the fence's) how
-- long, in milliseconds, the stream keeps entries; all are taken off here, so that the rest of
-- the script reads its keys and arguments as if they were not there.
local feed_stream = table.remove(KEYS)
local feed_sequence = table.remove(KEYS)
local event_ids = table.remove(KEYS)
local feed_window = tonumber(table.remove(ARGV))

-- A new event id: above every id given before, and at least the Redis clock's millisecond
-- times 1024, so that an event's time is its id's millisecond. Written out in full: Lua's
-- numbers are doubles, exact to 2^53, which ids stay far below.
local function next_event_id()
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local last = tonumber(redis.call('GET', event_ids) or '0')
  local id = math.max(last + 1, now * 1024)
  redis.call('SET', event_ids, string.format('%.0f', id))
  return id
end

-- Publishes one event on the feed whose stream is `stream` and sequence `sequence_key`, in
-- its stream (as entry <event id>-0, trimmed to the window) and on its channel, as one
-- envelope (wire.rs): a header line with the event id, the feed's sequence number, `kind`,
-- the user's id and its nick after the event, then `body`, built by the node (empty for an
-- event the script makes alone). Returns the event's id and its sequence number.
local function publish_on(stream, sequence_key, kind, user, nick, body)
  local id = next_event_id()
  local sequence = redis.call('INCR', sequence_key)
  local envelope = string.format('%.0f %d %s %s %s\n', id, sequence, kind, user, nick) .. body
  local oldest = math.max(0, id - feed_window * 1024)
  redis.call('XADD', stream, 'MINID', '~', string.format('%.0f', oldest),
    string.format('%.0f-0', id), 'e', envelope)
  redis.call('PUBLISH', stream, envelope)
  return id, sequence
end

-- Publishes one event on the script's feed (publish_on): its id and sequence number.
local function publish_event(kind, user, nick, body)
  return publish_on(feed_stream, feed_sequence, kind, user, nick, body)
end

-- Publishes an event that changed the user record `record` (kept, not deleted), and marks the
-- record with the event's id as its version (`v`): a node loading the records and then
-- applying the feed skips the events a record already reflects.
local function publish_change(record, kind, user, nick, body)
  local id = publish_event(kind, user, nick, body)
  redis.call('HSET', record, 'v', string.format('%.0f', id))
end
