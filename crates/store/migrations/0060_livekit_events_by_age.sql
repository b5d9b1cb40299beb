-- The pruning of applied LiveKit event ids deletes by age.
CREATE INDEX livekit_events_received ON livekit_events (received_at);
