-- An event for every node that changes nothing else the cluster keeps in Redis
-- (docs/CLUSTER.md, "Rooms as built"): a server ban put in force or lifted (the shared store
-- keeps the ban itself), an operator's wallops. On the state feed, in the network's one order.
-- ARGV[1] the operator's id, ARGV[2] its nick, ARGV[3] the event's kind, ARGV[4] its body.
-- Returns the event's id.
local id = publish_event(ARGV[3], ARGV[1], ARGV[2], ARGV[4])
return id
