"""`events` partitioned by capture time (migrations 0023-0024): a populated database converts safely."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scis.backup.partitions import Kept, Retired, retire_before
from scis.cli import main as scis_main
from scis.core.db import migrate
from scis.core.status import SessionStatus
from scis.evidence.chain import append_records, start_session
from scis.evidence.records import EventRecord
from scis.evidence.verify import verify_session
from tests.evidence.support import write_session

BEFORE_PARTITIONING = 22


def _on(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


def _app_url(postgres_url: str, database: str) -> str:
    return _on(postgres_url, conninfo_to_dict(database)["dbname"])


async def _write_old_sessions(url: str, count: int) -> list[uuid.UUID]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return [await write_session(conn, events=12) for _ in range(count)]


async def _write_today(url: str) -> uuid.UUID:
    """A live session captured now, through the chain writer (COPY into the parent)."""
    session_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn, conn.transaction():
        tail, _ = await start_session(
            conn, session_id=session_id, target="today", source="replay", case_id=None, config={},
            started_at=now, status=SessionStatus.LIVE,
        )  # fmt: skip
        records = [
            EventRecord(kind="chat", captured_at=now, msg_id=9_000 + i, body=f"now {i}", data={}) for i in range(5)
        ]
        await append_records(conn, session_id, tail, records)
    return session_id


async def _verdicts(url: str, sessions: list[uuid.UUID]) -> list[bool]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return [(await verify_session(conn, session)).intact for session in sessions]


def _partitions(conn: psycopg.Connection[Any]) -> dict[str, str]:
    rows = conn.execute(
        """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'public.events'::regclass"""
    ).fetchall()
    return dict(rows)


def test_a_populated_events_table_becomes_partitioned_with_chains_intact(
    empty_database: str, postgres_url: str
) -> None:
    migrate(empty_database, up_to=BEFORE_PARTITIONING)
    old_sessions = asyncio.run(_write_old_sessions(empty_database, 3))
    with psycopg.connect(empty_database) as conn:
        rows_before = conn.execute(
            "SELECT count(*), md5(string_agg(chain_hash, '' ORDER BY session_id, seq)) FROM events"
        ).fetchone()
        assert rows_before is not None and rows_before[0] >= 3 * 14  # start, 12 events, a gap and the seal each

    applied = migrate(empty_database)
    assert [name[:4] for name in applied][:2] == ["0023", "0024"]

    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'public.events'::regclass").fetchone() == ("p",)
        parts = _partitions(conn)
        today = datetime.now(UTC).date()
        assert parts["events_legacy"].startswith("FOR VALUES FROM (MINVALUE) TO (")
        assert parts["events_default"] == "DEFAULT"
        assert f"events_p{(today + timedelta(days=1)):%Y%m%d}" in parts
        assert f"events_p{(today + timedelta(days=7)):%Y%m%d}" in parts
        # The rows did not move or change; they now live in the legacy partition.
        assert (
            conn.execute(
                "SELECT count(*), md5(string_agg(chain_hash, '' ORDER BY session_id, seq)) FROM events"
            ).fetchone()
            == rows_before
        )
        assert conn.execute("SELECT count(*) FROM ONLY events_legacy").fetchone() == (rows_before[0],)
        # Every partition has the BRIN index, the per-session keys and both refusals.
        for name in parts:
            indexes = {r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", (name,))}
            assert any("USING brin (captured_at)" in d for d in indexes), name
            assert any("UNIQUE" in d and "(session_id, seq)" in d for d in indexes), name
            assert any("UNIQUE" in d and "(session_id, kind, msg_id)" in d for d in indexes), name
            triggers = {
                r[0] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", (name,))
            }
            assert {"events_append_only", "events_no_truncate"} <= triggers, name
        # The explorer's view reads the partitioned table, still as a security barrier.
        assert conn.execute(
            """SELECT DISTINCT d.refobjid::regclass::text, v.reloptions FROM pg_depend d
               JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
               WHERE v.oid = 'explorer.events'::regclass AND d.refobjid = 'public.events'::regclass"""
        ).fetchall() == [("events", ["security_barrier=true"])]
        conn.execute(
            "INSERT INTO explorer_grants (backend_pid, token, username, role)"
            " VALUES (pg_backend_pid(), 't', 'root', 'admin')"
        )
        conn.execute("SET scis.explorer_token = 't'")
        assert conn.execute("SELECT count(*) FROM explorer.events").fetchone() == (rows_before[0],)

    today_session = asyncio.run(_write_today(empty_database))
    assert asyncio.run(_verdicts(empty_database, [*old_sessions, today_session])) == [True] * 4
    with psycopg.connect(empty_database) as conn:
        homes = conn.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM events WHERE session_id = %s", (today_session,)
        ).fetchall()
        assert homes == [("events_legacy",)]  # the legacy partition covers the day of the migration

    # scis_app writes through the parent only and may change nothing; it may read a partition (pg_dump,
    # for `scis backup`, locks and reads each one), which shows nothing the parent does not.
    app = _app_url(postgres_url, empty_database)
    partition = f"events_p{datetime.now(UTC) + timedelta(days=1):%Y%m%d}"
    with psycopg.connect(app, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (rows_before[0] + 6,)
        assert conn.execute(f"SELECT count(*) FROM {partition}".encode()).fetchone() is not None
        for statement in (
            f"UPDATE {partition} SET body = 'x'",
            f"DELETE FROM {partition}",
            f"TRUNCATE {partition}",
            "DELETE FROM events_legacy",
            f"INSERT INTO {partition} SELECT * FROM events LIMIT 0",
            "UPDATE events SET body = 'x'",
            "DELETE FROM events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.encode())
    # Even the owner meets the append-only triggers on a partition (rows there, for the row triggers).
    with psycopg.connect(empty_database, autocommit=True) as conn:
        for statement in ("UPDATE events_legacy SET body = 'x'", "DELETE FROM events_legacy", f"TRUNCATE {partition}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement.encode())

    assert migrate(empty_database) == []  # a second run changes nothing


def test_partitions_are_made_ahead_and_old_ones_detached(
    empty_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    migrate(empty_database)
    monkeypatch.setenv("SCIS_MIGRATION_DATABASE_URL", empty_database)
    today = datetime.now(UTC).date()
    assert scis_main(["db", "partitions", "--ahead", "10"]) == 0
    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert f"events_p{(today + timedelta(days=10)):%Y%m%d}" in _partitions(conn)
        # Made ahead twice: nothing new, nothing lost.
        assert conn.execute("SELECT count(*) FROM scis_events_partitions_ahead(10)").fetchone() == (11,)
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SELECT scis_events_partitions_ahead(1000)")

    # A session still open in today's partition keeps it attached; so does a session without a case.
    open_session = asyncio.run(_write_today(empty_database))
    archive, tomorrow = tmp_path / "archive", today + timedelta(days=1)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        homes = conn.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM events WHERE session_id = %s", (open_session,)
        )
        assert homes.fetchall() == [(f"events_p{today:%Y%m%d}",)]
    kept = {item.name: item for item in retire_before(empty_database, tomorrow, archive)}
    assert (
        isinstance(kept[f"events_p{today:%Y%m%d}"], Kept) and "have not ended" in kept[f"events_p{today:%Y%m%d}"].reason
    )
    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert f"events_p{today:%Y%m%d}" in _partitions(conn)
        conn.execute("UPDATE live_sessions SET ended_at = now(), status = 'ended' WHERE id = %s", (open_session,))
    kept = {item.name: item for item in retire_before(empty_database, tomorrow, archive)}
    assert "without a case" in kept[f"events_p{today:%Y%m%d}"].reason  # type: ignore[union-attr]
    with psycopg.connect(empty_database, autocommit=True) as conn:
        case = conn.execute(
            "INSERT INTO cases (reference, title, created_by, retention_days) VALUES ('P-1', 'p', 't', 1) RETURNING id"
        ).fetchone()
        assert case is not None
        conn.execute("UPDATE live_sessions SET case_id = %s WHERE id = %s", (case[0], open_session))
    later = datetime.now(UTC) + timedelta(days=3)
    retired = [
        item.name for item in retire_before(empty_database, tomorrow, archive, now=later) if isinstance(item, Retired)
    ]
    assert f"events_p{today:%Y%m%d}" in retired
    with psycopg.connect(empty_database, autocommit=True) as conn:
        parts = _partitions(conn)
        assert f"events_p{today:%Y%m%d}" not in parts and f"events_p{(today + timedelta(days=1)):%Y%m%d}" in parts
        # The detached day is a table of its own, still append-only, its pg_dump in the archive.
        assert conn.execute(f"SELECT count(*) FROM events_p{today:%Y%m%d}".encode()).fetchone() == (6,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(f"DELETE FROM events_p{today:%Y%m%d}".encode())
        assert (archive / f"events_p{today:%Y%m%d}.dump").exists()
    # Rows of a day without a partition are kept in the default one, never refused.
    with psycopg.connect(empty_database, autocommit=True) as conn:
        far = date(2099, 1, 1)
        session = conn.execute(
            "INSERT INTO live_sessions (id, target, source, status) VALUES (%s, 'far', 'replay', 'live') RETURNING id",
            (uuid.uuid4(),),
        ).fetchone()
        assert session is not None
        conn.execute(
            "INSERT INTO events (session_id, seq, kind, captured_at, chain_hash) VALUES (%s, 0, 'chat', %s, 'x')",
            (session[0], datetime(far.year, far.month, far.day, tzinfo=UTC)),
        )
        assert conn.execute("SELECT count(*) FROM ONLY events_default").fetchone() == (1,)
        # Making that day's partition later leaves them there, with a warning, and fails nothing.
        assert conn.execute("SELECT scis_events_partition_for('2099-01-01')").fetchone() == (None,)


def test_partitions_command_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCIS_MIGRATION_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/x")
    assert scis_main(["db", "partitions"]) != 0
    assert "--ahead" in capsys.readouterr().err
