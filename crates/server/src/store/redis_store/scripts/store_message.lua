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
