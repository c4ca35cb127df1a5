-- What others see of a user changed (away, real name, account, bot, invisible, operator): its
-- record holds it, and the state feed says so. Changes nothing for a user no longer connected
-- through the node.
-- KEYS[1] the user's record. ARGV[1] the user's id, ARGV[2] its node, ARGV[3] its nick,
-- ARGV[4] the body of its state feed event, then the record's fields, name and value.
-- Returns 'updated' or 'gone'.
if redis.call('HGET', KEYS[1], 'node') ~= ARGV[2] then
  return 'gone'
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
publish_change(KEYS[1], 'updated', ARGV[1], ARGV[3], ARGV[4])
return 'updated'
