"""Subjects folded from stored evidence, incrementally while lives run and by `rebuild`: same rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from scis.profiles.subjects.enrichment import enrich_batch, enrich_session, rebuild, sessions_behind
from tests.subjects.support import T0, append, first_live_records, open_live, second_live_records, unique_user_ids


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as connection:
        yield connection


async def snapshot(conn: psycopg.AsyncConnection[Any], user_ids: tuple[int, ...]) -> dict[str, list[dict[str, Any]]]:
    """Everything derived about these users, keyed by the TikTok id (not the row id)."""
    cur = conn.cursor(row_factory=dict_row)
    ids = list(user_ids)
    await cur.execute(
        """SELECT tiktok_user_id, unique_id, nickname, sec_uid, avatar_url, first_seen_at, last_seen_at,
                  last_session_id, last_seq FROM subjects WHERE tiktok_user_id = ANY(%s) ORDER BY 1""",
        (ids,),
    )
    subjects = await cur.fetchall()
    await cur.execute(
        """SELECT s.tiktok_user_id, a.kind, a.value, a.first_seen_at, a.first_session_id, a.first_seq,
                  a.last_seen_at, a.last_session_id, a.last_seq
             FROM subject_aliases a JOIN subjects s ON s.id = a.subject_id
            WHERE s.tiktok_user_id = ANY(%s) ORDER BY 1, 2, 3""",
        (ids,),
    )
    aliases = await cur.fetchall()
    await cur.execute(
        """SELECT s.tiktok_user_id, l.* FROM subject_lives l JOIN subjects s ON s.id = l.subject_id
            WHERE s.tiktok_user_id = ANY(%s) ORDER BY 1, l.session_id""",
        (ids,),
    )
    lives = [{k: v for k, v in row.items() if k != "subject_id"} for row in await cur.fetchall()]
    return {"subjects": subjects, "aliases": aliases, "lives": lives}


async def test_incremental_enrichment_equals_rebuild(conn: psycopg.AsyncConnection[Any]) -> None:
    alice, bob = unique_user_ids()
    first = await open_live(conn, started_at=T0)
    second = await open_live(conn, started_at=T0)
    first_records, second_records = first_live_records(alice, bob), second_live_records(alice, bob)
    # Both lives grow while the enricher folds them in small batches, the later live sometimes first.
    for step in range(0, 7, 3):
        await append(conn, second, second_records[step : step + 3])
        await enrich_batch(conn, second.session_id, batch_size=2)
        await append(conn, first, first_records[step : step + 3])
        await enrich_batch(conn, first.session_id, batch_size=2)
    assert {first.session_id, second.session_id} <= set(await sessions_behind(conn))
    await enrich_session(conn, second.session_id, batch_size=2)
    await enrich_session(conn, first.session_id, batch_size=3)
    assert not {first.session_id, second.session_id} & set(await sessions_behind(conn))

    incremental = await snapshot(conn, (alice, bob))
    await rebuild(conn)
    rebuilt = await snapshot(conn, (alice, bob))
    assert rebuilt == incremental

    subjects = {row["tiktok_user_id"]: row for row in rebuilt["subjects"]}
    assert subjects[alice]["unique_id"] == "alice_new"
    assert subjects[alice]["nickname"] == "Alice N"
    assert subjects[alice]["sec_uid"] == "MS4wLjAB-alice"
    assert subjects[alice]["avatar_url"] == "https://p16.example/a2.webp"
    assert subjects[alice]["last_session_id"] == second.session_id
    lives = {(row["tiktok_user_id"], row["session_id"]): row for row in rebuilt["lives"]}
    in_first = lives[(alice, first.session_id)]
    assert (in_first["messages"], in_first["gifts"], in_first["diamonds"], in_first["likes"], in_first["joins"]) == (
        2, 5, 5, 15, 1,
    )  # fmt: skip
    assert (in_first["first_seq"], in_first["last_seq"]) == (1, 7)  # seq 0 is the session start
    in_second = lives[(alice, second.session_id)]
    assert (in_second["messages"], in_second["shares"], in_second["follows"], in_second["events"]) == (1, 1, 1, 3)
    bob_second = lives[(bob, second.session_id)]
    # The late gift frame (gift_update) is not counted again; the finished streak is.
    assert (bob_second["likes"], bob_second["gifts"], bob_second["diamonds"]) == (3, 1, 30)
    handles = {(row["tiktok_user_id"], row["kind"], row["value"]): row for row in rebuilt["aliases"]}
    old = handles[(alice, "unique_id", "alice_k")]
    assert (old["first_session_id"], old["first_seq"], old["last_seq"]) == (first.session_id, 1, 7)
    new = handles[(alice, "unique_id", "alice_new")]
    assert (new["first_session_id"], new["first_seq"]) == (second.session_id, 1)
    assert {value for (user, kind, value) in handles if user == alice and kind == "nickname"} == {
        "Alice", "Alice K", "Alice N",
    }  # fmt: skip


async def test_enrichment_is_not_repeated(conn: psycopg.AsyncConnection[Any]) -> None:
    alice, bob = unique_user_ids()
    live = await open_live(conn, started_at=T0)
    await append(conn, live, first_live_records(alice, bob))
    assert await enrich_session(conn, live.session_id) == 8
    before = await snapshot(conn, (alice, bob))
    assert await enrich_session(conn, live.session_id) == 0
    assert await snapshot(conn, (alice, bob)) == before
