-- Stores a batch of messages, in one step.
-- KEYS[1] the message count, KEYS[2] the history floors.
-- ARGV[1] the prefix of message keys, then five arguments per message: its id, time (ms),
-- body (JSON), target key, and the indexes listing it (`store_message.lua`).
-- Returns one outcome per message, as `store_message` gives it.
local outcomes = {}
local stored = 0
for first = 2, #ARGV, 5 do
  local outcome = store_message(ARGV[1], KEYS[2], ARGV[first], ARGV[first + 1],
    ARGV[first + 2], ARGV[first + 3], ARGV[first + 4])
  if outcome == 1 then
    stored = stored + 1
  end
  outcomes[#outcomes + 1] = outcome
end
if stored > 0 then
  redis.call('INCRBY', KEYS[1], stored)
end
return outcomes
