-- Registers an account unless one of the same folded name exists.
-- KEYS[1] the account's hash.
-- ARGV[1] name, ARGV[2] password hash, ARGV[3] SCRAM credentials, ARGV[4] created (ms),
-- ARGV[5] "1" if an email address follows, ARGV[6] the address.
-- Returns 1 if registered, 0 if the name is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'password_hash', ARGV[2],
  'scram_sha_256', ARGV[3], 'created', ARGV[4])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'email', ARGV[6])
end
return 1
