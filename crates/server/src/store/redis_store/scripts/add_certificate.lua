-- Lists a client certificate on an account.
-- KEYS[1] the account's hash, KEYS[2] its certificates, KEYS[3] the owners of every
-- certificate, KEYS[4] the counter ordering certificates.
-- ARGV[1] the fingerprint, ARGV[2] the folded account name, ARGV[3] the most per account.
-- Returns "added", "listed", "other", "too_many" or "no_account".
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'no_account'
end
local owner = redis.call('HGET', KEYS[3], ARGV[1])
if owner then
  if owner == ARGV[2] then
    return 'listed'
  end
  return 'other'
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return 'too_many'
end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 'added'
