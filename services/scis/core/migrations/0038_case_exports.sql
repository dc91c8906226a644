-- Evidence export from the web UI (issue 12, docs/decisions/715): `scis export` as a job of the report
-- job machinery (report_jobs kind 'export'), so any reports replica may write it, with the same
-- progress, heartbeat, retry and cancel. The finished archive is kept in PostgreSQL in 1 MiB chunks
-- (every replica can serve it, in flat memory), with its manifest SHA-256 and its own SHA-256.
-- Exports are evidence handed to third parties: append-only like reports' records.
CREATE TABLE case_exports (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id          bigint NOT NULL REFERENCES cases (id),
    manifest_sha256  text NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
    archive_sha256   text NOT NULL CHECK (archive_sha256 ~ '^[0-9a-f]{64}$'),
    size             bigint NOT NULL CHECK (size >= 0),
    chunks           integer NOT NULL CHECK (chunks >= 0),
    sessions         integer NOT NULL,
    records          bigint NOT NULL,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_exports_case_idx ON case_exports (case_id, id);

CREATE TABLE case_export_chunks (
    export_id  bigint NOT NULL REFERENCES case_exports (id),
    n          integer NOT NULL CHECK (n >= 0),
    data       bytea NOT NULL,
    PRIMARY KEY (export_id, n)
);

CREATE TRIGGER case_exports_append_only BEFORE UPDATE OR DELETE ON case_exports
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER case_exports_no_truncate BEFORE TRUNCATE ON case_exports
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER case_export_chunks_append_only BEFORE UPDATE OR DELETE ON case_export_chunks
    FOR EACH ROW EXECUTE FUNCTION scis_refuse_change();
CREATE TRIGGER case_export_chunks_no_truncate BEFORE TRUNCATE ON case_export_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION scis_refuse_change();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'scis_app') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON case_exports, case_export_chunks FROM scis_app;
    END IF;
END;
$$;

-- An export is a third kind of job: done means its export row exists (not a report).
DO $$
DECLARE
    constraint_name text;
BEGIN
    FOR constraint_name IN
        SELECT conname FROM pg_constraint
         WHERE conrelid = 'report_jobs'::regclass AND contype = 'c'
           AND (pg_get_constraintdef(oid) ~ 'report_id' OR pg_get_constraintdef(oid) ~ '''case''')
    LOOP
        EXECUTE format('ALTER TABLE report_jobs DROP CONSTRAINT %I', constraint_name);
    END LOOP;
END;
$$;
ALTER TABLE report_jobs ADD COLUMN export_id bigint REFERENCES case_exports (id);
ALTER TABLE report_jobs
    ADD CONSTRAINT report_jobs_kind_known CHECK (kind IN ('case', 'subject', 'export')),
    ADD CONSTRAINT report_jobs_done_has_output CHECK (
        (status = 'done') = (CASE WHEN kind = 'export' THEN export_id IS NOT NULL ELSE report_id IS NOT NULL END));

CREATE VIEW explorer.case_exports WITH (security_barrier) AS
SELECT id, case_id, manifest_sha256, archive_sha256, size, sessions, records, created_by, created_at
FROM public.case_exports
WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases);
COMMENT ON VIEW explorer.case_exports IS 'Evidence archives exported from SCIS: manifest and archive SHA-256 of each.';
