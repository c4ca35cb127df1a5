-- The fence on a cluster node's writes (fence.rs), prepended to every script that writes:
-- the script's last key is the writing node's lease and its last argument the token the lease
-- must hold ("" for a store no node fences). Both are taken off here, so that the rest of the
-- script reads its keys and arguments as if they were not there. Fails with FENCED, writing
-- nothing, if the lease no longer holds the token.
local fence_token = table.remove(ARGV)
local fence_lease = table.remove(KEYS)
if fence_token ~= '' and redis.call('GET', fence_lease) ~= fence_token then
  return redis.error_reply('FENCED this node no longer holds its lease; nothing was stored')
end
