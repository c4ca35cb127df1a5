-- Registers a node's new incarnation: takes the node's lease and writes its record. Refused
-- while the name's lease is held (by a live process of that name, or by this machine's last
-- run that just stopped without a word), and while an import (palaver cluster import, the
-- node ARGV[8]) runs, or, for the import, while any node is live. Nodes whose lease lapsed are
-- removed first, unless users connected through them are still in the directory of users
-- (cluster/users.rs): those nodes are named in the answer, for the caller to release their
-- users (which removes them), and so is this node's own name if its earlier incarnation left
-- users behind.
-- KEYS[1] the set of nodes, KEYS[2] this node's lease, KEYS[3] its record.
-- ARGV[1] the node's name, ARGV[2] its new token, ARGV[3] the lease (ms), ARGV[4] its version,
-- ARGV[5] its settings digest, ARGV[6] the prefix of lease keys, ARGV[7] that of records,
-- ARGV[8] the import's node name.
-- Returns {'started', now (ms), '', the nodes whose users to release},
-- {'held', ms left on the lease, the token holding it, {}} or {'busy', 0, the live node in
-- the way, {}}.
local held = redis.call('PTTL', KEYS[2])
if held == -1 then
  -- A lease without an expiry is nobody's doing but an operator's: count it as one lease.
  return {'held', tonumber(ARGV[3]), redis.call('GET', KEYS[2]), {}}
elseif held >= 0 then
  return {'held', held, redis.call('GET', KEYS[2]), {}}
end
local importing = ARGV[1] == ARGV[8]
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if name ~= ARGV[1] and (importing or name == ARGV[8])
      and redis.call('EXISTS', ARGV[6] .. name) == 1 then
    return {'busy', 0, name, {}}
  end
end
local left_users = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  -- The live nodes (their lease held) are left alone.
  if name ~= ARGV[1] and redis.call('EXISTS', ARGV[6] .. name) == 0 then
    if redis.call('SCARD', ARGV[7] .. name .. ':users') > 0 then
      table.insert(left_users, name)
    else
      redis.call('DEL', ARGV[7] .. name)
      redis.call('SREM', KEYS[1], name)
    end
  end
end
if redis.call('SCARD', ARGV[7] .. ARGV[1] .. ':users') > 0 then
  table.insert(left_users, ARGV[1])
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'token', ARGV[2], 'started', now, 'heartbeat', now,
  'version', ARGV[4], 'digest', ARGV[5], 'users', 0, 'connections', 0, 'rooms', 0,
  'round_trip_us', 0, 'clock_offset_ms', 0)
return {'started', now, '', left_users}
