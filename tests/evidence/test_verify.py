"""verify_session against a real PostgreSQL: intact chains pass, any change names its event."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from scis.core.status import SessionStatus
from scis.evidence.chain import SessionSealed, seal_session
from scis.evidence.verify import verify_session
from tests.evidence.support import tamper, write_session


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(postgres_url) as connection:
        yield connection


async def test_an_untouched_session_verifies(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    verdict = await verify_session(conn, session_id)
    assert verdict.intact and verdict.sealed and verdict.failure is None
    assert verdict.records_checked == 1 + 10 + 1 + 1
    assert "intact" in verdict.describe()


async def test_appending_after_the_seal_is_refused(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    with pytest.raises(SessionSealed):
        async with conn.transaction():
            await seal_session(conn, session_id, status=SessionStatus.ENDED)


async def test_the_database_refuses_updates_and_deletes(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with conn.transaction():
            await conn.execute("UPDATE events SET body = 'x' WHERE session_id = %s AND seq = 3", (session_id,))


async def test_one_changed_byte_of_raw_names_that_event(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    await tamper(
        conn,
        "UPDATE events SET raw = overlay(raw placing '\\x58'::bytea from 5 for 1) WHERE session_id = %s AND seq = 4",
        (session_id,),
    )
    verdict = await verify_session(conn, session_id)
    assert not verdict.intact and verdict.failure is not None
    assert (verdict.failure.seq, verdict.failure.check) == (4, "raw_sha256")
    assert verdict.failure.msg_id == 7_400_000_000_000_000_003


async def test_one_changed_character_of_a_field_names_that_event(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    await tamper(
        conn,
        "UPDATE events SET body = replace(body, 'number', 'numbex') WHERE session_id = %s AND seq = 8",
        (session_id,),
    )
    verdict = await verify_session(conn, session_id)
    assert verdict.failure is not None
    assert (verdict.failure.seq, verdict.failure.check, verdict.failure.kind) == (8, "chain_hash", "chat")
    assert "seq 8" in verdict.describe() and "TAMPERED" in verdict.describe()


async def test_a_changed_json_value_or_timestamp_is_caught(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    await tamper(
        conn, "UPDATE events SET data = data || '{\"score\": 0.6}' WHERE session_id = %s AND seq = 2", (session_id,)
    )
    verdict = await verify_session(conn, session_id)
    assert verdict.failure is not None and verdict.failure.seq == 2

    other = await write_session(conn)
    await tamper(
        conn,
        "UPDATE events SET captured_at = captured_at + interval '1 microsecond' WHERE session_id = %s AND seq = 3",
        (other,),
    )
    verdict = await verify_session(conn, other)
    assert verdict.failure is not None and verdict.failure.seq == 3


async def test_a_deleted_event_is_named_by_its_missing_seq(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    await tamper(conn, "DELETE FROM events WHERE session_id = %s AND seq = 5", (session_id,))
    verdict = await verify_session(conn, session_id)
    assert verdict.failure is not None
    assert (verdict.failure.seq, verdict.failure.check) == (5, "sequence")


async def test_a_cut_tail_is_caught_by_the_session_head(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn)
    await tamper(conn, "DELETE FROM events WHERE session_id = %s AND seq >= 11", (session_id,))
    verdict = await verify_session(conn, session_id)
    assert verdict.failure is not None and verdict.failure.check == "head"


async def test_an_unsealed_session_verifies_as_not_sealed(conn: psycopg.AsyncConnection[Any]) -> None:
    session_id = await write_session(conn, seal=False)
    verdict = await verify_session(conn, session_id)
    assert verdict.intact and not verdict.sealed


async def test_an_unknown_session_is_a_lookup_error(conn: psycopg.AsyncConnection[Any]) -> None:
    with pytest.raises(LookupError):
        await verify_session(conn, uuid.uuid4())


@pytest.fixture
async def intact_and_tampered(conn: psycopg.AsyncConnection[Any]) -> tuple[uuid.UUID, uuid.UUID]:
    good = await write_session(conn)
    bad = await write_session(conn)
    await tamper(conn, "UPDATE events SET nickname = 'Mallory' WHERE session_id = %s AND seq = 7", (bad,))
    return good, bad


def test_scis_verify_exits_0_when_intact_and_1_naming_the_event(
    intact_and_tampered: tuple[uuid.UUID, uuid.UUID], postgres_url: str
) -> None:
    good, bad = intact_and_tampered
    command = [sys.executable, "-m", "scis.evidence.cli", "--database-url", postgres_url]
    ok = subprocess.run([*command, str(good)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    tampered = subprocess.run([*command, str(bad)], capture_output=True, text=True, timeout=60)
    assert tampered.returncode == 1, tampered.stderr
    assert "seq 7" in tampered.stdout and "msg_id 7400000000000000005" in tampered.stdout
    missing = subprocess.run([*command, str(uuid.uuid4())], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no live session" in missing.stderr
