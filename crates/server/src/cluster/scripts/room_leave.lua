-- A member leaves a room: it parted, or it was kicked (docs/CLUSTER.md, "Rooms as built").
-- KEYS[1] the set of open rooms. ARGV[1] the member's id, ARGV[2] its nick, ARGV[3] the folded
-- room name, ARGV[4] the event's kind ('parted' or 'kicked'), ARGV[5] the prefix of user
-- records, ARGV[6] the prefix of rooms' keys, ARGV[7] the body.
-- Returns {'left', the event's sequence, its id, 1 if the room emptied else 0}, or {'absent',
-- 0, 0, 0} when it was not a member (it left meanwhile).
local id, folded = ARGV[1], ARGV[3]
if redis.call('HEXISTS', ARGV[6] .. folded .. ':members', id) == 0 then
  return {'absent', 0, 0, 0}
end
local emptied = leave_room(id, folded, ARGV[5] .. id .. ':rooms', KEYS[1], ARGV[6])
local event, sequence = publish_event(ARGV[4], id, ARGV[2], ARGV[7])
return {'left', sequence, event, emptied and 1 or 0}
