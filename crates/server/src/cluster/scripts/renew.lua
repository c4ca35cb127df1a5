-- Renews a node's lease and records its heartbeat. A lease that lapsed while its record is
-- still this incarnation's (Redis was down, its clock ran on) is taken again; one that
-- another incarnation holds, or whose record is gone (another node removed it as dead), is
-- not: the node is fenced.
-- KEYS[1] the set of nodes, KEYS[2] the node's lease, KEYS[3] its record.
-- ARGV[1] its token, ARGV[2] the lease (ms), ARGV[3] users, ARGV[4] connections, ARGV[5]
-- rooms, ARGV[6] the last round trip (µs), ARGV[7] the last clock offset (ms), ARGV[8] the
-- prefix of lease keys.
-- Returns {'renewed', now (ms), live nodes} or {'fenced', 0, 0}.
local lease = redis.call('GET', KEYS[2])
if lease ~= ARGV[1] then
  if lease or redis.call('HGET', KEYS[3], 'token') ~= ARGV[1] then
    return {'fenced', 0, 0}
  end
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[3], 'heartbeat', now, 'users', ARGV[3], 'connections', ARGV[4],
  'rooms', ARGV[5], 'round_trip_us', ARGV[6], 'clock_offset_ms', ARGV[7])
local live = 0
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  live = live + redis.call('EXISTS', ARGV[8] .. name)
end
return {'renewed', now, live}
