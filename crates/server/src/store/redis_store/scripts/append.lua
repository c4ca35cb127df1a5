-- Stores a batch of messages, in one step.
-- KEYS[1] the message count, KEYS[2] the history floors.
-- ARGV[1] the prefix of message keys, then five arguments per message: its id, time (ms),
-- body (JSON), target key, and the indexes listing it (a JSON array of [sorted set, set or
-- "", member or ""]).
-- Returns one outcome per message: 1 stored; 0 not stored because its room's lifetime ended
-- before it (below the room's floor, as the SQLite store deletes it at its next prune);
-- -1 not stored because the id is taken.
local outcomes = {}
local stored = 0
for first = 2, #ARGV, 5 do
  local id, time, body, target, indexes =
    ARGV[first], ARGV[first + 1], ARGV[first + 2], ARGV[first + 3], ARGV[first + 4]
  local key = ARGV[1] .. id
  local outcome = 1
  if redis.call('EXISTS', key) == 1 then
    outcome = -1
  else
    local floor = redis.call('HGET', KEYS[2], target)
    if floor and tonumber(id) < tonumber(floor) then
      outcome = 0
    end
  end
  if outcome == 1 then
    for _, index in ipairs(cjson.decode(indexes)) do
      redis.call('ZADD', index[1], id, id)
      redis.call('ZADD', index[1] .. ':times', time, id)
      if index[2] ~= '' then
        redis.call('SADD', index[2], index[3])
      end
    end
    redis.call('HSET', key, 'body', body, 'time', time, 'indexes', indexes)
    stored = stored + 1
  end
  outcomes[#outcomes + 1] = outcome
end
if stored > 0 then
  redis.call('INCRBY', KEYS[1], stored)
end
return outcomes
