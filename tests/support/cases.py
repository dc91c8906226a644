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


def make_session(postgres_url: str, *, case_id: int | None, created_by: str) -> str:
    """A finished live session row of a case (no events); returns its id."""
    session_id = str(uuid.uuid4())
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO live_sessions (id, case_id, target, source, status, created_by)
               VALUES (%s, %s, 'isolation.test', 'replay', 'ended', %s)""",
            (session_id, case_id, created_by),
        )
    return session_id


def make_report(postgres_url: str, *, case_id: int | None, created_by: str) -> int:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO reports (case_id, title, template, sha256, pdf, created_by)
               VALUES (%s, 'isolation report', 'test', repeat('0', 64), '%%PDF-test', %s) RETURNING id""",
            (case_id, created_by),
        ).fetchone()
    assert row is not None
    return int(row[0])


def make_profile(postgres_url: str, *, case_id: int | None, created_by: str) -> int:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO profiles (case_id, unique_id, created_by) VALUES (%s, %s, %s) RETURNING id",
            (case_id, f"iso.{uuid.uuid4().hex[:10]}", created_by),
        ).fetchone()
    assert row is not None
    return int(row[0])


def make_report_job(postgres_url: str, *, case_id: int, created_by: str) -> int:
    """A finished report job of a case, with its (fake) report; returns the job's id."""
    report_id = make_report(postgres_url, case_id=case_id, created_by=created_by)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO report_jobs (kind, case_id, language, status, progress, stage, report_id, requested_by,
                                        finished_at)
               VALUES ('case', %s, 'en', 'done', 100, 'done', %s, %s, now()) RETURNING id""",
            (case_id, report_id, created_by),
        ).fetchone()
    assert row is not None
    return int(row[0])
