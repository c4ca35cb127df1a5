-- A new id from the cluster's counter (publish_event.lua's next_event_id), for a message that
-- is not an event of its own: a private message between two users of one node, which must
-- not take an id another node's message takes (they share one history). Publishes nothing.
-- Returns the id.
return next_event_id()
