-- Deletes one message. KEYS[1] its hash, KEYS[2] the message count; ARGV[1] its id.
-- Returns 1 if it was stored.
return forget(KEYS[1], ARGV[1], KEYS[2])
