-- A user leaves: its nick's claim (if still its own), its record, its places in the sets and
-- its rooms' memberships go. Leaving twice changes nothing the second time.
-- KEYS[1] the nick's claim, KEYS[2] the user's record, KEYS[3] the set of connected users,
-- KEYS[4] the node's users. ARGV[1] the user's id, ARGV[2] the nick it leaves, ARGV[3] the
-- body of its state feed event (the quit reason), ARGV[4] the prefix of user records, ARGV[5]
-- the set of open rooms, ARGV[6] the prefix of rooms' keys. Only a user still connected
-- publishes an event.
-- Returns 'left', or 'gone' when it had left already (nothing published).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('DEL', KEYS[2])
leave_every_room(ARGV[1], ARGV[4], ARGV[5], ARGV[6])
redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('SREM', KEYS[3], ARGV[1]) == 1 then
  publish_event('disconnected', ARGV[1], ARGV[2], ARGV[3])
  return 'left'
end
return 'gone'
