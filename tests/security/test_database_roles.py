"""What each database role may do, asked of PostgreSQL itself (migration 0004, decision 301).

scis_app, the role every service connects as, writes rows but never the schema, and cannot change
or remove the evidence or the audit log — not even with the append-only triggers out of the way,
because it cannot touch the triggers either. scis_explorer reads the explorer views and nothing else.
"""

from __future__ import annotations

import contextlib

import psycopg
import pytest

from tests.security.snapshot import differences, snapshot

APP_REFUSED = [
    "UPDATE events SET body = 'forged'",
    "DELETE FROM events",
    "TRUNCATE events",
    "UPDATE audit_log SET actor = 'nobody'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "ALTER TABLE events DISABLE TRIGGER events_append_only",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "SET session_replication_role = replica",
    "CREATE TABLE mallory (x int)",
    "DROP TABLE reports",
    "ALTER TABLE users ADD COLUMN note text",
    "SET ROLE postgres",
    "SET ROLE scis_explorer",
    "SET SESSION AUTHORIZATION postgres",
    "CREATE ROLE mallory LOGIN",
    "COPY (SELECT 1) TO PROGRAM 'true'",
    "SELECT pg_read_file('postgresql.conf')",
    "DELETE FROM schema_migrations",
]
# Accepted by PostgreSQL with a warning ("no privileges were granted") and without effect.
APP_WITHOUT_EFFECT = ["GRANT SELECT ON users TO scis_explorer", "GRANT scis_app TO scis_explorer"]


@pytest.mark.parametrize("statement", APP_REFUSED)
def test_the_app_role_cannot(statement: str, postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.encode())


def test_the_app_role_left_everything_as_it_was(postgres_url: str, superuser_url: str) -> None:
    before = snapshot(superuser_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for statement in APP_REFUSED + APP_WITHOUT_EFFECT:
            with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.encode())
    assert differences(before, snapshot(superuser_url)) == {}


def test_the_app_role_does_its_work(postgres_url: str) -> None:
    """Not merely locked out: it reads, inserts and updates ordinary rows, and appends evidence."""
    with psycopg.connect(postgres_url) as conn:
        case_id = conn.execute(
            "INSERT INTO cases (reference, title, created_by) VALUES ('ROLE-1', 'x', 'test') RETURNING id"
        ).fetchone()
        assert case_id
        conn.execute("UPDATE cases SET title = 'y' WHERE id = %s", case_id)
        conn.execute("INSERT INTO audit_log (actor, action) VALUES ('test', 'roles.check')")
        conn.rollback()


def test_the_app_role_is_plain(superuser_url: str) -> None:
    with psycopg.connect(superuser_url) as conn:
        rows = conn.execute(
            """SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
                      (SELECT count(*) FROM pg_auth_members WHERE member = r.oid)
               FROM pg_roles r WHERE rolname IN ('scis_app', 'scis_explorer') ORDER BY 1"""
        ).fetchall()
    assert rows == [
        ("scis_app", False, False, False, False, False, 0),
        ("scis_explorer", False, False, False, False, False, 0),
    ]


def test_the_explorer_role_sees_only_the_explorer_schema(explorer_url: str, superuser_url: str) -> None:
    with psycopg.connect(superuser_url) as conn:
        readable = conn.execute(
            """SELECT n.nspname, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND has_table_privilege('scis_explorer', c.oid, 'SELECT')
               GROUP BY 1"""
        ).fetchall()
        writable = conn.execute(
            """SELECT c.oid::regclass::text FROM pg_class c
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
                 AND has_table_privilege('scis_explorer', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')"""
        ).fetchall()
    assert [schema for schema, _ in readable] == ["explorer"]
    # UPDATE on pg_settings is PostgreSQL's other spelling of SET: this session only, for everyone.
    assert writable == [("pg_settings",)]
    with psycopg.connect(explorer_url, autocommit=True) as conn:
        for table in ("public.cases", "public.users", "public.explorer_grants", "public.events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1".encode())
        # Without a grant for this connection (the service writes one per query) every view is empty.
        assert conn.execute("SELECT count(*) FROM explorer.cases").fetchone() == (0,)
