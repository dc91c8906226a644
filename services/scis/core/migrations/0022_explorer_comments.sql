-- What each explorer view and its main columns hold, for the schema browser (GET /api/database/tables,
-- issue 12). Comments on views are read through pg_description; they change nothing else.
COMMENT ON VIEW explorer.cases IS 'Investigations: one row per case you are a member of (admins: all).';
COMMENT ON VIEW explorer.case_members IS 'Who belongs to each case you may see.';
COMMENT ON VIEW explorer.profiles IS 'Analysts'' profiles of people of interest, per case.';
COMMENT ON VIEW explorer.live_sessions IS 'Captured lives: one row per capture session, with its hash-chain head.';
COMMENT ON VIEW explorer.events IS 'Every stored record of a capture, in seq order per session (chat, gift, join, like, gap, ...).';
COMMENT ON VIEW explorer.reports IS 'Reports produced, with the SHA-256 of each PDF.';
COMMENT ON VIEW explorer.report_jobs IS 'Report jobs: who asked, status, progress and why one failed.';
COMMENT ON VIEW explorer.subjects IS 'People seen on TikTok, keyed by their numeric user id.';
COMMENT ON VIEW explorer.subject_aliases IS 'Every @handle and nickname a subject was seen with, and when.';
COMMENT ON VIEW explorer.users IS 'SCIS accounts (admins only; never password hashes).';
COMMENT ON VIEW explorer.audit_log IS 'The audit log, a hash chain (admins only).';

COMMENT ON COLUMN explorer.events.session_id IS 'The capture session (live_sessions.id).';
COMMENT ON COLUMN explorer.events.seq IS 'Position in the session''s hash chain, from 1, no holes.';
COMMENT ON COLUMN explorer.events.kind IS 'chat, gift, like, member (join), social (follow/share), room_user (viewers), gap, ...';
COMMENT ON COLUMN explorer.events.user_id IS 'TikTok numeric user id of who did it (subjects.tiktok_user_id).';
COMMENT ON COLUMN explorer.events.unique_id IS 'The @handle at the time of the event.';
COMMENT ON COLUMN explorer.events.body IS 'Chat text.';
COMMENT ON COLUMN explorer.events.diamond_count IS 'Diamonds per gift; times repeat_count for a streak''s total.';
COMMENT ON COLUMN explorer.events.repeat_count IS 'Gift streak count.';
COMMENT ON COLUMN explorer.events.captured_at IS 'When SCIS received it (UTC).';
COMMENT ON COLUMN explorer.events.server_time IS 'When TikTok says it happened.';
COMMENT ON COLUMN explorer.events.raw IS 'The frame exactly as received (hashed into raw_sha256).';
COMMENT ON COLUMN explorer.events.chain_hash IS 'SHA-256 chaining this record to the one before.';
COMMENT ON COLUMN explorer.live_sessions.chain_head IS 'Hash of the last record: verify it against a seal or a report.';
COMMENT ON COLUMN explorer.live_sessions.target IS 'The @handle whose live was captured.';
