-- Stores one message.
-- KEYS[1] the message's hash, KEYS[2] the message count, KEYS[3] the history floors.
-- ARGV[1] id, ARGV[2] time (ms), ARGV[3] the body (JSON), ARGV[4] the target key,
-- ARGV[5] the indexes listing it: a JSON array of [sorted set, set or "", member or ""].
-- Returns 1 if stored, 0 if its room's lifetime ended before it (below the room's floor, as
-- the SQLite store deletes it at its next prune), an error if the id is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('message ' .. ARGV[1] .. ' is stored already')
end
local floor = redis.call('HGET', KEYS[3], ARGV[4])
if floor and tonumber(ARGV[1]) < tonumber(floor) then
  return 0
end
for _, index in ipairs(cjson.decode(ARGV[5])) do
  redis.call('ZADD', index[1], ARGV[1], ARGV[1])
  redis.call('ZADD', index[1] .. ':times', ARGV[2], ARGV[1])
  if index[2] ~= '' then
    redis.call('SADD', index[2], index[3])
  end
end
redis.call('HSET', KEYS[1], 'body', ARGV[3], 'time', ARGV[2], 'indexes', ARGV[5])
redis.call('INCR', KEYS[2])
return 1
