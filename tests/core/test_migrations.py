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
