-- Rooms' keys and the end of a user's memberships, prepended after the fence to every user and
-- room script. A room's keys are `room_prefix` .. its folded name, with ':members' (a hash:
-- member's user id → '@' for an operator, else '') for its members; a user's rooms are the set
-- `user_prefix` .. its id .. ':rooms'; the open rooms are the set `rooms`.

-- Takes the user `id` out of the room `folded`; whether that emptied the room, which then
-- goes (its record with it: an unregistered room's lifetime ends with its last member).
local function leave_room(id, folded, user_rooms, rooms, room_prefix)
  local members = room_prefix .. folded .. ':members'
  redis.call('HDEL', members, id)
  redis.call('SREM', user_rooms, folded)
  if redis.call('EXISTS', members) == 0 then
    redis.call('SREM', rooms, folded)
    redis.call('DEL', room_prefix .. folded)
    return true
  end
  return false
end

-- Takes the user `id` (its records under `user_prefix`) out of every room it is in: it left.
-- Its rooms are found from its own set, so a departure needs no list of them from its node.
local function leave_every_room(id, user_prefix, rooms, room_prefix)
  local user_rooms = user_prefix .. id .. ':rooms'
  for _, folded in ipairs(redis.call('SMEMBERS', user_rooms)) do
    leave_room(id, folded, user_rooms, rooms, room_prefix)
  end
  redis.call('DEL', user_rooms)
end
