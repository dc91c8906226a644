-- Where the server would re-send from, for the events of a session committed so far: the last
-- cursor, internal_ext, push server and route parameters of a frame whose events are all stored.
-- A resumed capture (or one adopting the session) asks the server to re-send from there.
ALTER TABLE live_sessions ADD COLUMN resume_point jsonb;
