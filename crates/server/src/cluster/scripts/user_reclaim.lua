-- An account's owner reclaims its nick: whoever holds it moves to the next free guest nick
-- (guest_nick.lua), and with ARGV[7] = '1' the owner takes it. The
-- holder's rename on the state feed carries ARGV[8] as its body when the holder is another
-- node's user: that node moves it on seeing the event, in the feed's order.
-- Refused, changing nothing, if the nick's holder or the owner's nick is not what the node
-- believed ('stale'), or after 100 guest numbers all taken ('taken').
-- KEYS[1] the nick's claim, KEYS[2] the guest counter, KEYS[3] the owner's current nick's
-- claim, KEYS[4] the owner's record. ARGV[1] the prefix of user records, ARGV[2] the prefix
-- of nick claims, ARGV[3] the holder's id ('' for none), ARGV[4] the owner's id, ARGV[5] the
-- nick as the owner's account writes it, ARGV[6] folded, ARGV[7] '1' to take it, ARGV[8] the
-- body of the holder's rename ('' for the caller's own user).
-- Returns {'reclaimed', guest nick or ''}, {'stale', ''} or {'taken', ''}.
local holder = redis.call('GET', KEYS[1])
if (holder or '') ~= ARGV[3] or redis.call('GET', KEYS[3]) ~= ARGV[4] then
  return {'stale', ''}
end
local guest = ''
if holder then
  guest = next_free_guest(KEYS[2], ARGV[2])
  if not guest then
    return {'taken', ''}
  end
  redis.call('DEL', KEYS[1])
  redis.call('SET', ARGV[2] .. guest, holder)
  redis.call('HSET', ARGV[1] .. holder, 'nick', guest, 'folded', guest)
  publish_change(ARGV[1] .. holder, 'renamed', holder, guest, ARGV[8])
end
if ARGV[7] == '1' then
  redis.call('DEL', KEYS[3])
  redis.call('SET', KEYS[1], ARGV[4])
  redis.call('HSET', KEYS[4], 'nick', ARGV[5], 'folded', ARGV[6])
  publish_change(KEYS[4], 'renamed', ARGV[4], ARGV[5], '')
end
return {'reclaimed', guest}
