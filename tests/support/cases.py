"""Cases with chosen members, made straight in PostgreSQL for tests that need per-case access set up."""

from __future__ import annotations

import uuid

import psycopg


def make_case(postgres_url: str, *, created_by: str, members: list[str]) -> int:
    """A new open case (unique reference) whose members are exactly `members`; returns its id."""
    reference = f"T-{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn, conn.transaction():
        row = conn.execute(
            "INSERT INTO cases (reference, title, created_by) VALUES (%s, %s, %s) RETURNING id",
            (reference, f"test case {reference}", created_by),
        ).fetchone()
        assert row is not None
        for username in members:
            conn.execute(
                "INSERT INTO case_members (case_id, username, added_by) VALUES (%s, %s, 'test')", (row[0], username)
            )
    return int(row[0])
