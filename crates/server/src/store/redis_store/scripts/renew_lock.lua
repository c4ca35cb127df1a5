-- Renews the node lock if this node holds it. KEYS[1] the lock; ARGV[1] the node's token,
-- ARGV[2] the lease (ms). Returns 1 if renewed, 0 if another node holds it or none does.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
