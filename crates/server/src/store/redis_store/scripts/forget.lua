-- Forgets one message: its hash, its id in every index that lists it, and an index's entry in
-- its set (of targets, of a party's views) when the index is left empty. Returns 1 if the
-- message was stored, 0 if not. Prepended to the scripts that delete messages.
local function forget(message_key, id, count_key)
  local indexes = redis.call('HGET', message_key, 'indexes')
  if not indexes then
    return 0
  end
  for _, index in ipairs(cjson.decode(indexes)) do
    redis.call('ZREM', index[1], id)
    redis.call('ZREM', index[1] .. ':times', id)
    if index[2] ~= '' and redis.call('ZCARD', index[1]) == 0 then
      redis.call('SREM', index[2], index[3])
    end
  end
  redis.call('DEL', message_key)
  redis.call('DECR', count_key)
  return 1
end
