-- Removes a node that stops cleanly: its lease, record and name, if they are still this
-- incarnation's.
-- KEYS[1] the set of nodes, KEYS[2] the node's lease, KEYS[3] its record.
-- ARGV[1] the node's name, ARGV[2] its token.
-- Returns 1 if removed, 0 if they were no longer its own.
if redis.call('HGET', KEYS[3], 'token') ~= ARGV[2] then
  return 0
end
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[1], ARGV[1])
return 1
