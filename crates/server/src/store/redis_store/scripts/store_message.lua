-- Storing one message, shared by the store's appends (`append.lua`) and by a cluster node's
-- room messages, which are stored in the same step as they are published
-- (`cluster/scripts/room_say.lua`).
-- `prefix`: what a message's key is before its id; `floors`: the history floors' key; then the
-- message's id, time (ms), body (JSON), target key, and the indexes listing it (a JSON array of
-- [sorted set, set or "", member or ""]).
-- Returns 1 stored; 0 not stored because its room's lifetime ended before it (below the room's
-- floor, as the SQLite store deletes it at its next prune); -1 not stored because the id is
-- taken. The caller counts the stored messages.
local function store_message(prefix, floors, id, time, body, target, indexes)
  local key = prefix .. id
  if redis.call('EXISTS', key) == 1 then
    return -1
  end
  local floor = redis.call('HGET', floors, target)
  if floor and tonumber(id) < tonumber(floor) then
    return 0
  end
  for _, index in ipairs(cjson.decode(indexes)) do
    redis.call('ZADD', index[1], id, id)
    redis.call('ZADD', index[1] .. ':times', time, id)
    if index[2] ~= '' then
      redis.call('SADD', index[2], index[3])
    end
  end
  redis.call('HSET', key, 'body', body, 'time', time, 'indexes', indexes)
  return 1
end

-- Storing a message that the same script published (a cluster node's room or private message),
-- whose id — and so its time, the id's millisecond — only that script knows: `after_id` is its
-- JSON after the leading id and time (`published.rs`), `count` the message count's key.
local function store_published(prefix, floors, count, id, after_id, target, indexes)
  local written_id = string.format('%.0f', id)
  local time = string.format('%.0f', math.floor(id / 1024))
  local body = '{"id":' .. written_id .. ',"time":' .. time .. ',' .. after_id
  if store_message(prefix, floors, written_id, time, body, target, indexes) == 1 then
    redis.call('INCR', count)
  end
end
