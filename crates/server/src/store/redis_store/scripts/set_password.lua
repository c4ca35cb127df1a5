-- Replaces an existing account's password secrets. KEYS[1] the account's hash; ARGV[1] the
-- password hash, ARGV[2] the SCRAM credentials. Returns 1 if the account exists.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[1], 'scram_sha_256', ARGV[2])
return 1
