-- Retention for one target (a room, or a pair of nicks): deletes its messages older than
-- the cutoff, then all but its newest `keep`.
-- KEYS[1] the target's history, KEYS[2] the message count.
-- ARGV[1] the cutoff time (ms) or "", ARGV[2] keep or "", ARGV[3] the prefix of message keys.
-- Returns how many messages were deleted.
local deleted = 0
if ARGV[1] ~= '' then
  local old = redis.call('ZRANGEBYSCORE', KEYS[1] .. ':times', '-inf', '(' .. ARGV[1])
  for _, id in ipairs(old) do
    deleted = deleted + forget(ARGV[3] .. id, id, KEYS[2])
  end
end
if ARGV[2] ~= '' then
  local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
  if extra > 0 then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, extra - 1)) do
      deleted = deleted + forget(ARGV[3] .. id, id, KEYS[2])
    end
  end
end
return deleted
