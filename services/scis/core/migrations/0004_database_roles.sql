-- Database roles: migrations run as the owner (whoever runs this file); the services connect as
-- scis_app (no DDL, no UPDATE/DELETE/TRUNCATE on the evidence or the audit log); the SQL explorer
-- connects as scis_explorer, which may read the curated `explorer` schema of views and nothing else.
-- See docs/decisions/301-database-roles-and-explorer-visibility.md.

-- 1. The two LOGIN roles. Created here when the owner may create roles (the embedded superuser, or an
--    owner with CREATEROLE); otherwise a DBA creates them first (docs/operations.md). Passwords are set
--    afterwards by `scis up` / `scis db migrate` from the configured URLs, never in this file.
DO $$
DECLARE
    missing text[] := ARRAY(
        SELECT name FROM unnest(ARRAY['scis_app', 'scis_explorer']) AS name
        WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name));
    too_strong text;
BEGIN
    IF cardinality(missing) > 0 THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            RAISE EXCEPTION 'SCIS needs the database roles % and % may not create roles',
                array_to_string(missing, ', '), current_user
                USING HINT = 'create them as a DBA with the SQL in docs/operations.md (External PostgreSQL), '
                             'or migrate as a role with CREATEROLE, then run `scis db migrate` again';
        END IF;
        IF 'scis_app' = ANY (missing) THEN
            CREATE ROLE scis_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        END IF;
        IF 'scis_explorer' = ANY (missing) THEN
            CREATE ROLE scis_explorer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        END IF;
    END IF;
    -- A role made by hand could be stronger than SCIS assumes: refuse rather than run on it.
    SELECT string_agg(rolname, ', ') INTO too_strong FROM pg_roles
    WHERE rolname IN ('scis_app', 'scis_explorer')
      AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls);
    IF too_strong IS NOT NULL THEN
        RAISE EXCEPTION 'the role(s) % must not be superuser or have CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS',
            too_strong USING HINT = 'ALTER ROLE ... NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS';
    END IF;
    SELECT string_agg(m.rolname || ' is a member of ' || g.rolname, '; ') INTO too_strong
    FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid
    WHERE m.rolname IN ('scis_app', 'scis_explorer');
    IF too_strong IS NOT NULL THEN
        RAISE EXCEPTION 'SCIS roles must not be members of other roles (SET ROLE would reach them): %', too_strong
            USING HINT = 'REVOKE the membership, then migrate again';
    END IF;
END;
$$;

-- Defaults for a direct scis_explorer session; the explorer service sets its own per query as well.
DO $$
BEGIN
    ALTER ROLE scis_explorer SET default_transaction_read_only = on;
    ALTER ROLE scis_explorer SET statement_timeout = '30s';
    ALTER ROLE scis_explorer SET search_path = explorer;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'may not alter scis_explorer: its session defaults stay PostgreSQL''s';
END;
$$;

-- 2. Nobody but SCIS's roles connects, makes temporary tables or reads the public schema.
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO scis_app', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO scis_explorer', current_database());
    REVOKE ALL ON SCHEMA public FROM PUBLIC;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not the database owner: PUBLIC keeps CONNECT/TEMPORARY on the database and USAGE on schema public';
END;
$$;

-- Functions every role may call by default that write (large objects, WAL messages, transaction
-- ids), hold locks past a query (advisory locks) or end other sessions of the same role. Only a
-- superuser may revoke them; without one the explorer's READ ONLY transaction and reset still apply.
-- The application keeps advisory locks and transaction ids; nobody else gets any of them.
DO $$
DECLARE
    target regprocedure;
BEGIN
    FOR target IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND (p.proname IN ('lo_create', 'lo_creat', 'lo_from_bytea', 'lo_put', 'lowrite', 'lo_unlink',
                             'lo_truncate', 'lo_truncate64', 'lo_open', 'lo_import', 'lo_export',
                             'pg_terminate_backend', 'pg_cancel_backend', 'pg_logical_emit_message',
                             'txid_current', 'pg_current_xact_id')
               OR p.proname LIKE 'pg\_advisory\_%' OR p.proname LIKE 'pg\_try\_advisory\_%')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', target);
        IF target::text ~ '(advisory|txid_current|pg_current_xact_id)' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO scis_app', target);
        END IF;
    END LOOP;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'not a superuser: large-object, advisory-lock and signalling functions stay callable by every role';
END;
$$;

-- 3. The application role: reads and writes rows, never the schema.
GRANT USAGE ON SCHEMA public TO scis_app;

-- Which SCIS account the explorer connection with this backend pid is serving right now. Written by
-- scis_app just before an explorer query and removed right after; the explorer views read it as their
-- owner, scis_explorer itself cannot read or write it. The query's transaction carries the same
-- random token (SET LOCAL scis.explorer_token), so a row left behind by a crash never matches a later
-- query on a reused pid. Unlogged: a grant is worthless after a crash and needs no fsync.
CREATE UNLOGGED TABLE explorer_grants (
    backend_pid integer PRIMARY KEY,
    token       text NOT NULL,
    username    text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'investigator', 'viewer')),
    granted_at  timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO scis_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO scis_app;
-- Tables and sequences later migrations create get the same grants without repeating them.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO scis_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO scis_app;
-- Append-only: the evidence and the audit log. (Triggers refuse it too; this holds with triggers off.)
REVOKE UPDATE, DELETE, TRUNCATE ON events, audit_log FROM scis_app;
-- Which migrations ran is the owner's record (the table exists whenever `migrate` runs this file).
DO $$
BEGIN
    IF to_regclass('schema_migrations') IS NOT NULL THEN
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM scis_app;
    END IF;
END;
$$;

-- 4. The explorer: one schema of security-barrier views, each showing what the API shows the account
--    named in explorer_grants for this connection; with no grant row every view is empty.
CREATE VIEW explorer_scope WITH (security_barrier) AS
SELECT g.username, g.role
FROM explorer_grants g
WHERE g.backend_pid = pg_backend_pid() AND g.token = current_setting('scis.explorer_token', true);

-- Case ids the current explorer account may see: every case for admins, its memberships otherwise.
CREATE VIEW explorer_visible_cases WITH (security_barrier) AS
SELECT c.id AS case_id
FROM cases c
JOIN explorer_scope s ON s.role = 'admin'
    OR EXISTS (SELECT 1 FROM case_members m WHERE m.case_id = c.id AND m.username = s.username);

CREATE VIEW explorer_is_admin WITH (security_barrier) AS
SELECT true AS admin FROM explorer_scope WHERE role = 'admin';

CREATE SCHEMA explorer;
REVOKE ALL ON SCHEMA explorer FROM PUBLIC;

CREATE VIEW explorer.cases WITH (security_barrier) AS
SELECT id, reference, title, description, status, created_by, created_at FROM public.cases
WHERE id IN (SELECT case_id FROM public.explorer_visible_cases);

CREATE VIEW explorer.case_members WITH (security_barrier) AS
SELECT case_id, username, added_by, added_at FROM public.case_members
WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases);

-- Rows without a case are shown to admins only.
CREATE VIEW explorer.profiles WITH (security_barrier) AS
SELECT id, case_id, subject_id, unique_id, display_name, risk_level, tags, notes, created_by, created_at, updated_at
FROM public.profiles
WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases)
   OR (case_id IS NULL AND EXISTS (SELECT 1 FROM public.explorer_is_admin));

CREATE VIEW explorer.live_sessions WITH (security_barrier) AS
SELECT id, case_id, target, room_id, source, status, status_reason, config, started_at, ended_at, chain_head,
       events_count, created_by
FROM public.live_sessions
WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases)
   OR (case_id IS NULL AND EXISTS (SELECT 1 FROM public.explorer_is_admin));

CREATE VIEW explorer.events WITH (security_barrier) AS
SELECT session_id, seq, msg_id, kind, method, room_id, user_id, unique_id, nickname, body, gift_id, gift_name,
       diamond_count, repeat_count, inferred, counts, data, server_time, captured_at, raw, raw_sha256, chain_hash
FROM public.events
WHERE session_id IN (SELECT id FROM explorer.live_sessions);

CREATE VIEW explorer.reports WITH (security_barrier) AS
SELECT id, case_id, title, template, sha256, created_by, created_at FROM public.reports
WHERE case_id IN (SELECT case_id FROM public.explorer_visible_cases)
   OR (case_id IS NULL AND EXISTS (SELECT 1 FROM public.explorer_is_admin));

-- People seen on TikTok are not per case: every signed-in account may look them up, as in the API.
CREATE VIEW explorer.subjects WITH (security_barrier) AS
SELECT id, tiktok_user_id, unique_id, nickname, sec_uid, first_seen_at, last_seen_at, created_at
FROM public.subjects WHERE EXISTS (SELECT 1 FROM public.explorer_scope);

CREATE VIEW explorer.subject_aliases WITH (security_barrier) AS
SELECT subject_id, kind, value, first_seen_at, last_seen_at
FROM public.subject_aliases WHERE EXISTS (SELECT 1 FROM public.explorer_scope);

-- Accounts and the audit log (which holds every analyst's queries): admins only; password hashes never.
CREATE VIEW explorer.users WITH (security_barrier) AS
SELECT id, username, role, disabled, created_at FROM public.users
WHERE EXISTS (SELECT 1 FROM public.explorer_is_admin);

CREATE VIEW explorer.audit_log WITH (security_barrier) AS
SELECT id, at, actor, role, action, target, source_ip, request_id, service, details FROM public.audit_log
WHERE EXISTS (SELECT 1 FROM public.explorer_is_admin);

GRANT USAGE ON SCHEMA explorer TO scis_explorer;
GRANT SELECT ON ALL TABLES IN SCHEMA explorer TO scis_explorer;
ALTER DEFAULT PRIVILEGES IN SCHEMA explorer GRANT SELECT ON TABLES TO scis_explorer;
