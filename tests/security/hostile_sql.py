"""A hostile SQL corpus: every way we could think of to write, escalate or outlast a query.

Each entry is (what it tries, the SQL). The suite sends every one through the explorer API as a
viewer, through the explorer with the parser switched off, and straight to PostgreSQL as
scis_explorer — and then checks that nothing in the database changed (tests/security/snapshot.py).
Add to it whenever you think of a new trick.
"""

from __future__ import annotations

HOSTILE_SQL: list[tuple[str, str]] = [
    # Comments and string syntax that could make a checker see one statement where PostgreSQL sees two.
    ("-- comment ended by a carriage return", "SELECT 1 --\r; COMMIT; DELETE FROM events"),
    ("-- comment ended by \\r then a role reset", "SELECT 1 --\rRESET ROLE; DROP TABLE events"),
    ("nested block comments", "SELECT 1 /* /* */ ' */ ; DELETE FROM audit_log; -- '"),
    ("E'' string with an escaped quote", "SELECT E'\\'' ; DELETE FROM events; --'"),
    ("standard string ending in a backslash", "SELECT 'x\\'; DELETE FROM events; --'"),
    ("dollar quotes", "SELECT $$ ' $$; DELETE FROM events; -- '"),
    ("tagged dollar quotes", "SELECT $é$ ' $é$; UPDATE users SET role = 'admin'; -- '"),
    ("U&'' string", "SELECT U&'\\0027'; DELETE FROM events; --"),
    ('U&"" name spelling a function', 'SELECT U&"pg\\005fsleep"(600)'),
    ('U&"" name spelling set_config', "SELECT U&\"set\\005fconfig\"('statement_timeout', '0', false)"),
    # Data-modifying statements, plain and hidden inside a read.
    ("plain insert", "INSERT INTO users (username, password_hash, role) VALUES ('mallory', 'x', 'admin')"),
    ("plain update", "UPDATE users SET role = 'admin'"),
    ("plain delete", "DELETE FROM audit_log"),
    ("update of the evidence", "UPDATE events SET body = 'forged'"),
    ("merge", "MERGE INTO cases c USING (SELECT 1 AS id) s ON c.id = s.id WHEN MATCHED THEN DELETE"),
    ("truncate", "TRUNCATE events"),
    (
        "CTE with insert",
        "WITH x AS (INSERT INTO cases (reference, title, created_by) VALUES ('X-1', 'x', 'm') RETURNING id)"
        " SELECT * FROM x",
    ),
    ("CTE with update", "WITH x AS (UPDATE users SET role = 'admin' RETURNING id) SELECT * FROM x"),
    ("CTE with delete", "WITH x AS (DELETE FROM audit_log RETURNING id) SELECT count(*) FROM x"),
    ("CTE delete on an explorer view", "WITH x AS (DELETE FROM explorer.cases RETURNING id) SELECT 1"),
    ("SELECT INTO", "SELECT * INTO stolen_users FROM users"),
    ("SELECT INTO TEMP", "SELECT 1 AS a INTO TEMP scratch"),
    ("row locks", "SELECT * FROM cases FOR UPDATE"),
    ("EXPLAIN ANALYZE of a delete", "EXPLAIN ANALYZE DELETE FROM events"),
    ("EXPLAIN (ANALYZE) of an update", "EXPLAIN (ANALYZE, FORMAT JSON) UPDATE users SET role = 'admin'"),
    # COPY: files, programs (OS commands as the database user).
    ("COPY to a program", "COPY (SELECT 1) TO PROGRAM 'touch /tmp/scis-pwned'"),
    ("COPY from a program", "COPY users FROM PROGRAM 'echo x'"),
    ("COPY to a file", "COPY users TO '/tmp/scis-users.csv'"),
    ("COPY from stdin", "COPY cases FROM STDIN"),
    # Procedural code and calls.
    ("DO block", "DO $$ BEGIN DELETE FROM events; END $$"),
    ("CALL", "CALL pg_catalog.pg_sleep(1)"),
    ("CREATE FUNCTION", "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'DELETE FROM events RETURNING 1'"),
    # Roles and sessions.
    ("SET ROLE", "SET ROLE postgres"),
    ("SET ROLE to the app", "SET ROLE scis_app"),
    ("SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION postgres"),
    ("RESET ROLE", "RESET ROLE"),
    ("set_config", "SELECT set_config('default_transaction_read_only', 'off', false)"),
    ("quoted set_config", "SELECT \"set_config\"('statement_timeout', '0', false)"),
    ("SET statement_timeout", "SET statement_timeout = 0"),
    ("RESET ALL", "RESET ALL"),
    ("ALTER own password", "ALTER ROLE scis_explorer PASSWORD 'owned'"),
    ("ALTER own defaults", "ALTER ROLE CURRENT_USER SET default_transaction_read_only = off"),
    ("ALTER SYSTEM", "ALTER SYSTEM SET log_statement = 'none'"),
    ("CREATE ROLE", "CREATE ROLE mallory SUPERUSER LOGIN PASSWORD 'x'"),
    ("GRANT", "GRANT scis_app TO scis_explorer"),
    ("GRANT on a table", "GRANT SELECT ON users TO PUBLIC"),
    ("REVOKE", "REVOKE SELECT ON ALL TABLES IN SCHEMA explorer FROM scis_explorer"),
    # Transaction control: leaving the READ ONLY transaction.
    ("COMMIT", "COMMIT"),
    ("ROLLBACK", "ROLLBACK"),
    ("BEGIN", "BEGIN"),
    ("read-write transaction", "START TRANSACTION READ WRITE"),
    ("SET TRANSACTION", "SET TRANSACTION READ WRITE"),
    ("savepoint", "SAVEPOINT s"),
    ("prepared transaction", "PREPARE TRANSACTION 'x'"),
    # Locks, notifications, advisory locks that outlive the request.
    ("LOCK", "LOCK TABLE events IN ACCESS EXCLUSIVE MODE"),
    ("LISTEN", "LISTEN scis"),
    ("NOTIFY", "NOTIFY scis, 'hello'"),
    ("pg_notify", "SELECT pg_notify('scis', 'hello')"),
    ("advisory lock on the migration id", "SELECT pg_advisory_lock_shared(7362451)"),
    ("advisory lock", "SELECT pg_advisory_lock(1)"),
    ("try advisory lock", "SELECT pg_try_advisory_lock(7362451)"),
    # Sequences, large objects, WAL.
    ("nextval", "SELECT nextval('users_id_seq')"),
    ("setval", "SELECT setval('users_id_seq', 1)"),
    ("large object create", "SELECT lo_create(0)"),
    ("large object from bytea", "SELECT lo_from_bytea(0, 'x')"),
    ("large object import", "SELECT lo_import('/etc/passwd')"),
    ("large object export", "SELECT lo_export(1, '/tmp/x')"),
    ("logical message", "SELECT pg_logical_emit_message(true, 'x', 'y')"),
    ("xid assignment", "SELECT txid_current()"),
    # Files and other servers.
    ("read a file", "SELECT pg_read_file('/etc/passwd')"),
    ("read a file, qualified", "SELECT pg_catalog.pg_read_file('postgresql.conf')"),
    ("read a binary file", "SELECT pg_read_binary_file('/etc/passwd')"),
    ("list a directory", "SELECT pg_ls_dir('.')"),
    ("stat a file", "SELECT pg_stat_file('postgresql.conf')"),
    ("dblink", "SELECT * FROM dblink('dbname=scis', 'DELETE FROM events') AS t(x text)"),
    ("query_to_xml runs any query", "SELECT query_to_xml('DELETE FROM events RETURNING 1', true, true, '')"),
    # Other sessions and the server.
    ("terminate a backend", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"),
    ("cancel a backend", "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"),
    ("reload configuration", "SELECT pg_reload_conf()"),
    ("sleep past the limit", "SELECT pg_sleep(600)"),
    ("sleep_for", "SELECT pg_sleep_for('10 minutes')"),
    # Schema changes.
    ("CREATE TABLE", "CREATE TABLE mallory (x int)"),
    ("CREATE TEMP TABLE", "CREATE TEMP TABLE mallory (x int)"),
    ("CREATE VIEW over the hashes", "CREATE VIEW explorer.hashes AS SELECT password_hash FROM public.users"),
    ("DROP TABLE", "DROP TABLE events"),
    ("ALTER TABLE disable trigger", "ALTER TABLE events DISABLE TRIGGER events_append_only"),
    ("ALTER TABLE add column", "ALTER TABLE users ADD COLUMN note text"),
    ("COMMENT", "COMMENT ON TABLE events IS 'x'"),
    ("VACUUM", "VACUUM events"),
    ("ANALYZE", "ANALYZE events"),
    ("REFRESH", "REFRESH MATERIALIZED VIEW x"),
    ("PREPARE", "PREPARE p AS DELETE FROM events"),
    ("EXECUTE", "EXECUTE p"),
    ("DISCARD", "DISCARD ALL"),
    ("two statements", "SELECT 1; DELETE FROM events"),
    ("trailing statement after a comment", "SELECT 1 /* x */; UPDATE users SET disabled = true"),
    # Reads the explorer must not allow at all (no writes, but the wrong data).
    ("password hashes", "SELECT password_hash FROM users"),
    ("password hashes, public schema", "SELECT password_hash FROM public.users"),
    ("grants table", "SELECT * FROM public.explorer_grants"),
    ("role passwords", "SELECT rolpassword FROM pg_authid"),
]
