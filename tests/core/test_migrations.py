"""Migrations apply on an empty database, and a second run changes nothing."""

from __future__ import annotations

import psycopg
import pytest

from scis.core.db import DatabaseUnavailable, load_migrations, migrate


def schema_snapshot(url: str) -> list[tuple[str, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' ORDER BY 1, 2"""
        ).fetchall()


def test_migrations_apply_once(empty_database: str) -> None:
    applied = migrate(empty_database)
    assert applied == [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    before = schema_snapshot(empty_database)
    assert {row[0] for row in before} >= {
        "users",
        "audit_log",
        "cases",
        "subjects",
        "profiles",
        "live_sessions",
        "events",
    }
    assert migrate(empty_database) == []
    assert schema_snapshot(empty_database) == before


def test_unreachable_database_is_one_readable_error() -> None:
    with pytest.raises(DatabaseUnavailable, match=r"cannot reach PostgreSQL at postgresql://scis:\*\*\*@127.0.0.1:1/x"):
        migrate("postgresql://scis:secret@127.0.0.1:1/x")


def test_db_migrate_runs_as_the_owner_and_sets_the_role_passwords(
    empty_database: str, postgres_url: str, explorer_url: str
) -> None:
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIS_")}
    # The role URLs carry the passwords the roles already have: setting them again changes nothing
    # for the rest of the test session, but goes through the whole path.
    env.update(SCIS_MIGRATION_DATABASE_URL=empty_database, SCIS_DATABASE_URL=postgres_url)
    env.update(SCIS_EXPLORER_DATABASE_URL=explorer_url)
    done = subprocess.run(
        [sys.executable, "-m", "scis", "db", "migrate", "--set-passwords"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "applied: 0001_foundation" in done.stdout and "0004_database_roles" in done.stdout
    assert "passwords set: scis_app, scis_explorer" in done.stdout
    with psycopg.connect(empty_database) as conn:
        granted = conn.execute(
            """SELECT has_table_privilege('scis_app', 'events', 'INSERT'),
                      has_table_privilege('scis_app', 'events', 'DELETE')"""
        ).fetchone()
    assert granted == (True, False)


def test_readiness_says_the_schema_waits_for_the_migration_job(empty_database: str) -> None:
    """Services stay not-ready, saying why, until the migration Job ran; a second Job run changes nothing."""
    import asyncio

    from scis.core.db import latest_migration, schema_status

    async def status() -> str:
        async with await psycopg.AsyncConnection.connect(empty_database, autocommit=True) as conn:
            return await schema_status(conn)

    assert "not migrated: waiting for `scis db migrate`" in asyncio.run(status())
    migrate(empty_database, up_to=latest_migration() - 1)
    assert asyncio.run(status()) == (
        f"schema at {latest_migration() - 1:04d}, this version needs {latest_migration():04d}:"
        " waiting for the migration Job"
    )
    migrate(empty_database)
    assert asyncio.run(status()) == "ok"
    assert migrate(empty_database) == []  # the Job run again on an upgrade without new migrations
