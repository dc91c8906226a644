-- The role the database explorer runs analysts' queries as: read-only, no password hashes.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'scis_reader') THEN
        CREATE ROLE scis_reader NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot create role scis_reader; the database explorer stays disabled until an admin creates it';
END;
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'scis_reader') THEN
        GRANT USAGE ON SCHEMA public TO scis_reader;
        GRANT SELECT ON cases, subjects, subject_aliases, profiles, live_sessions, events, audit_log TO scis_reader;
        GRANT SELECT (id, created_at, title, case_id, template, sha256, created_by) ON reports TO scis_reader;
        GRANT SELECT (id, username, role, disabled, created_at) ON users TO scis_reader;
    END IF;
END;
$$;
