-- Session lists (lives, analyser) show the newest first, now filtered by case membership: an index
-- in that order lets PostgreSQL stop after the page instead of sorting every session of every case.
CREATE INDEX live_sessions_started_idx ON live_sessions (started_at DESC);
