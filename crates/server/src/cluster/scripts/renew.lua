-- Renews a node's lease and records its heartbeat. A lease that lapsed while its record is
-- still this incarnation's (Redis was down, its clock ran on) is taken again; one that
-- another incarnation holds, or whose record is gone (another node removed it as dead), is
-- not: the node is fenced. Names the nodes whose lease lapsed with users still in the
-- directory, for the caller to release them (docs/CLUSTER.md, "Node death") — but not in the
-- first two leases after Redis itself started (a new run id): the nodes' leases may have run
-- out while Redis was down, and they take them again within a heartbeat.
-- KEYS[1] the set of nodes, KEYS[2] the node's lease, KEYS[3] its record.
-- ARGV[1] its token, ARGV[2] the lease (ms), ARGV[3] users, ARGV[4] connections, ARGV[5]
-- rooms, ARGV[6] the last round trip (µs), ARGV[7] the last clock offset (ms), ARGV[8] the
-- prefix of lease keys, ARGV[9] that of records, ARGV[10] the key of Redis's run (a hash:
-- its run id, and until when no node is released).
-- Returns {'renewed', now (ms), live nodes, lapsed nodes with users} or {'fenced', 0, 0, {}}.
local lease = redis.call('GET', KEYS[2])
if lease ~= ARGV[1] then
  if lease or redis.call('HGET', KEYS[3], 'token') ~= ARGV[1] then
    return {'fenced', 0, 0, {}}
  end
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[3], 'heartbeat', now, 'users', ARGV[3], 'connections', ARGV[4],
  'rooms', ARGV[5], 'round_trip_us', ARGV[6], 'clock_offset_ms', ARGV[7])
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
local grace_until = tonumber(redis.call('HGET', ARGV[10], 'grace_until') or '0')
if redis.call('HGET', ARGV[10], 'run') ~= run then
  grace_until = now + 2 * tonumber(ARGV[2])
  redis.call('HSET', ARGV[10], 'run', run, 'grace_until', grace_until)
end
local live = 0
local lapsed = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[8] .. name) == 1 then
    live = live + 1
  elseif now >= grace_until and redis.call('SCARD', ARGV[9] .. name .. ':users') > 0 then
    table.insert(lapsed, name)
  end
end
return {'renewed', now, live, lapsed}
