-- Snapshots ("mark this moment", issue 13, docs/decisions/803): an analyst marks a moment of a live;
-- the still frame the live showed and the records around that time become a bookmark of the case.
-- `sha256` is the SHA-256 of the bookmark's canonical JSON (scis.snapshots.service.canonical), which
-- names the frame by its own SHA-256 and each record by its chain hash, so the export and anyone
-- holding the archive can check it. Bookmarks are evidence: append-only like events.
CREATE TABLE case_snapshots (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id       bigint NOT NULL REFERENCES cases (id),
    session_id    uuid NOT NULL REFERENCES live_sessions (id),
    marked_at     timestamptz NOT NULL,
    note          text NOT NULL DEFAULT '',
    frame_jpeg    bytea,
    frame_sha256  text,
    frame_source  text NOT NULL,
    records       jsonb NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    CHECK ((frame_jpeg IS NULL) = (frame_sha256 IS NULL)),
    CHECK (jsonb_typeof(records) = 'array')
);
CREATE INDEX case_snapshots_case_idx ON case_snapshots (case_id, id);
CREATE INDEX case_snapshots_session_idx ON case_snapshots (session_id, id);

CREATE TRIGGER case_snapshots_append_only BEFORE UPDATE OR DELETE ON case_snapshots
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER case_snapshots_no_truncate BEFORE TRUNCATE ON case_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

-- The application role adds and reads bookmarks; it never changes or removes one.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'scis_app') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON case_snapshots FROM scis_app;
    END IF;
END;
$$;

CREATE VIEW explorer.case_snapshots WITH (security_barrier) AS
SELECT id, case_id, session_id, marked_at, note, frame_sha256, frame_source, records, sha256, created_by, created_at
FROM public.case_snapshots
WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases);
COMMENT ON VIEW explorer.case_snapshots IS 'Marked moments of lives: the still frame''s SHA-256 and the records around it, hashed.';
