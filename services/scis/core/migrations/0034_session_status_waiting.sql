-- One status vocabulary (scis.core.status.SessionStatus) gains `waiting` (issue 13, docs/decisions/804):
-- a capture polling an offline target until it goes live. Captures create their session only once
-- the live is found, so no stored row is expected to say `waiting`; the constraint lists every status
-- so that readers and the database agree on one vocabulary.
ALTER TABLE live_sessions DROP CONSTRAINT live_sessions_status_check;
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_status_check
    CHECK (status IN ('waiting', 'starting', 'live', 'ended', 'stopped', 'offline', 'not_found', 'private', 'blocked',
                      'failed'));
