-- One status vocabulary for live sessions (scis.core.status.SessionStatus). Statuses no writer
-- produces any more are mapped first so the constraint can hold: the old names of "starting"
-- become it; anything else unknown becomes "failed" and keeps what it was in status_reason.
UPDATE live_sessions SET status = 'starting' WHERE status IN ('pending', 'connecting', 'reconnecting');
UPDATE live_sessions
SET status_reason = 'status "' || status || '" before migration 0007' || CASE WHEN status_reason = '' THEN '' ELSE ': ' || status_reason END,
    status = 'failed'
WHERE status NOT IN ('starting', 'live', 'ended', 'stopped', 'offline', 'not_found', 'private', 'blocked', 'failed');

-- Adding a status: a new migration drops and re-adds this constraint with the new value listed.
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_status_check
    CHECK (status IN ('starting', 'live', 'ended', 'stopped', 'offline', 'not_found', 'private', 'blocked', 'failed'));
