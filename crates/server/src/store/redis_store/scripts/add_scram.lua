-- Adds SCRAM credentials to an account that has none, if its password hash is still the one
-- they were derived from. KEYS[1] the account's hash; ARGV[1] that password hash, ARGV[2] the
-- credentials. Returns 1 if stored.
if redis.call('HGET', KEYS[1], 'password_hash') ~= ARGV[1]
    or redis.call('HEXISTS', KEYS[1], 'scram_sha_256') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'scram_sha_256', ARGV[2])
return 1
