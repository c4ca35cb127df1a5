-- Guest nicks, prepended after the fence to every user script: the next free one is
-- `guest-N`, N from the counter `counter` that every node shares, skipping the numbers whose
-- nick someone took by hand (claims named `claim_prefix` .. nick). Nil after 100 numbers all
-- taken, which the script reports.
local function next_free_guest(counter, claim_prefix)
  for _ = 1, 100 do
    local nick = 'guest-' .. redis.call('INCR', counter)
    if redis.call('EXISTS', claim_prefix .. nick) == 0 then
      return nick
    end
  end
  return nil
end
