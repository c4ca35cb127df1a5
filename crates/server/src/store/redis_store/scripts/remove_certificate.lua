-- Removes a client certificate from an account. KEYS[1] the account's certificates, KEYS[2]
-- the owners; ARGV[1] the fingerprint, ARGV[2] the folded account name. Returns 1 if listed.
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
