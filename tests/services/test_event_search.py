"""Full-text search over captured events: accents and case ignored, handles and nicknames included, only
the lives the caller may see, filters, stable pages, highlights, and served by the GIN index (EXPLAIN)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from scis.core.auth.models import Role, User
from scis.profiles.search.service import HEADLINE_OPTIONS, search_sql
from tests.services.conftest import auth
from tests.subjects.support import T0, append, event, open_live, unique_user_ids
from tests.support.cases import make_case


async def test_search_finds_words_in_visible_lives_only(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    word = f"zq{uuid.uuid4().hex[:8]}"  # a word no other test writes
    alice, bob = unique_user_ids()
    ours = make_case(postgres_url, created_by="test", members=[accounts["viewer"]])
    theirs = make_case(postgres_url, created_by="test", members=[])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        live = await open_live(conn, started_at=T0, case_id=ours)
        await append(conn, live, [
            event("chat", T0 + timedelta(seconds=1), alice, "alice_k", "Alice", body=f"Rendez-vous au Café {word}"),
            event("chat", T0 + timedelta(seconds=2), bob, f"{word}.fan", "Bob", body="nothing here"),
            event("chat", T0 + timedelta(seconds=3), alice, "alice_k", "Alice", body=f"{word} encore, à côté"),
            event("gift", T0 + timedelta(seconds=4), bob, "bob", "Bob", gift_id=1, diamond_count=1, repeat_count=1),
        ])  # fmt: skip
        hidden_live = await open_live(conn, started_at=T0, case_id=theirs)
        await append(conn, hidden_live, [event("chat", T0, bob, "bob", "Bob", body=f"secret {word} cafe")])

    client = clients["profiles"]

    async def search(token: str = tokens["viewer"], **params: Any) -> dict[str, Any]:
        response = await client.get("/api/profiles/search/events", params=params, headers=auth(token))
        assert response.status_code == 200, response.text
        return dict(response.json())

    found = await search(q=f"CAFE {word}")  # accents and case ignored, every word must match
    # seq 0 is the chain's session_start record: the chats are 1, 2 and 3.
    assert [(hit["seq"], hit["session_id"]) for hit in found["items"]] == [(1, str(live.session_id))]
    highlight = found["items"][0]["highlight"]
    assert f"\u0002{word}\u0003" in highlight and "\u0002Café\u0003" in highlight  # as written
    assert found["items"][0]["case_id"] == ours and found["items"][0]["body"].startswith("Rendez-vous au Café")
    # The word is also a handle: handles and nicknames are searched with the text.
    assert {hit["seq"] for hit in (await search(q=word))["items"]} == {1, 2, 3}
    assert {hit["seq"] for hit in (await search(q="cote " + word))["items"]} == {3}
    assert {hit["seq"] for hit in (await search(q=f"{word} -cafe"))["items"]} == {2, 3}
    assert {hit["seq"] for hit in (await search(q=word, user_id=alice))["items"]} == {1, 3}
    later = (T0 + timedelta(seconds=2)).isoformat()
    assert {hit["seq"] for hit in (await search(q=word, since=later))["items"]} == {2, 3}
    # Someone else's case is not searched; an admin sees it.
    assert str(hidden_live.session_id) not in {hit["session_id"] for hit in (await search(q=word))["items"]}
    assert str(hidden_live.session_id) in {h["session_id"] for h in (await search(tokens["admin"], q=word))["items"]}
    assert (await search(q=word, case_id=theirs))["items"] == []

    everything = await search(q=word, limit=200)
    paged: list[tuple[str, int]] = []
    for offset in range(0, 3):
        page = await search(q=word, limit=1, offset=offset)
        paged.extend((hit["session_id"], hit["seq"]) for hit in page["items"])
        assert page["has_more"] is (offset < 2)
    assert paged == [(hit["session_id"], hit["seq"]) for hit in everything["items"]]

    empty = await client.get("/api/profiles/search/events", params={"q": "!!!"}, headers=auth(tokens["viewer"]))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "query.q"
    assert "no word" in empty.json()["errors"][0]["problem"]


def test_search_is_served_by_the_index(postgres_url: str) -> None:
    sql, scope = search_sql(User(username="t-viewer", role=Role.viewer))
    params = {"q": "hello world", "headline": HEADLINE_OPTIONS, "case": None, "session": None, "user": None,
              "since": None, "until": None, "limit": 51, "offset": 0, **scope}  # fmt: skip
    with psycopg.connect(postgres_url) as conn:
        # The test database holds few events, where a scan is cheaper; the point is that the index
        # matches the query's expression and so can serve it when the table is large.
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params).fetchall())
    # events is partitioned by day (migration 0024): each partition has its copy of the index, and
    # PostgreSQL shows the index expression inlined (the three readings of migration 0029).
    scans = [line.strip() for line in plan.splitlines() if " on events_" in line]
    assert scans and all(line.startswith("->  Bitmap Heap Scan") or "text_search" in line
                         or "scis_event_document" in line for line in scans), plan  # fmt: skip
    assert plan.count("Index Cond: (((to_tsvector('scis_simple'") == plan.count("Bitmap Heap Scan on events_"), plan
    assert "to_tsvector('scis_french'" in plan and "Seq Scan on events" not in plan, plan


def test_every_partition_gets_the_search_index(superuser_url: str) -> None:
    """Each partition of events, including one made after migration 0029, has its copy of the index."""
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        day = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date + 45").fetchone()
        assert day is not None
        made = conn.execute("SELECT scis_events_partition_for(%s)", (day[0],)).fetchone()
        assert made is not None and made[0] == f"events_p{day[0]:%Y%m%d}"
        missing = conn.execute(
            """SELECT part.relid::regclass::text FROM pg_partition_tree('public.events') AS part
                WHERE part.isleaf AND NOT EXISTS (
                      SELECT 1 FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
                       WHERE i.inhparent = 'public.events_text_search'::regclass AND x.indrelid = part.relid)"""
        ).fetchall()
        assert missing == []


async def test_french_and_english_stems_match_without_accents(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    tag = f"zs{uuid.uuid4().hex[:8]}"
    alice, bob = unique_user_ids()
    case = make_case(postgres_url, created_by="test", members=[accounts["viewer"]])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        live = await open_live(conn, started_at=T0, case_id=case)
        await append(conn, live, [
            event("chat", T0 + timedelta(seconds=1), alice, "alice_k", "Al", body=f"{tag} ils ont mangé des gâteaux"),
            event("chat", T0 + timedelta(seconds=2), bob, "bob", "Bob", body=f"{tag} she was running to the stations"),
            event("chat", T0 + timedelta(seconds=3), bob, "bob", "Bob", body=f"{tag} nothing in common"),
        ])  # fmt: skip

    async def seqs(q: str) -> set[int]:
        response = await clients["profiles"].get(
            "/api/profiles/search/events", params={"q": f"{tag} {q}", "case_id": case}, headers=auth(tokens["viewer"])
        )
        assert response.status_code == 200, response.text
        return {hit["seq"] for hit in response.json()["items"]}

    assert await seqs("manger") == {1}  # French stem, the accent of "mangé" ignored
    assert await seqs("MANGER gateau") == {1}
    assert await seqs("runs station") == {2}  # English stems
    assert await seqs("alice_k mange") == {1}  # a handle and a stem in one query
    assert await seqs('"running to the station"') == {2}  # a phrase, stop word and stem
    assert await seqs("mangez -gateaux") == set()
    assert await seqs("courir") == set()  # stems, not translations
    stemmed = await clients["profiles"].get(
        "/api/profiles/search/events", params={"q": "MANGER", "case_id": case}, headers=auth(tokens["viewer"])
    )
    assert "\u0002mangé\u0003" in stemmed.json()["items"][0]["highlight"]  # the stem's word, as written


async def test_hits_come_with_the_records_around_them(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    tag = f"zc{uuid.uuid4().hex[:8]}"
    alice, bob = unique_user_ids()
    case = make_case(postgres_url, created_by="test", members=[accounts["viewer"]])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        live = await open_live(conn, started_at=T0, case_id=case)
        other = await open_live(conn, started_at=T0, case_id=case)
        lines = [f"line {n}" for n in range(1, 8)]
        lines[3] = f"the {tag} line"  # seq 4
        await append(conn, live, [event("chat", T0 + timedelta(seconds=n), alice, "alice_k", "Alice", body=text)
                                  for n, text in enumerate(lines, start=1)])  # fmt: skip
        await append(conn, other, [event("chat", T0, bob, "bob", "Bob", body=f"{tag} first"),
                                   event("join", T0 + timedelta(seconds=1), bob, "bob", "Bob")])  # fmt: skip

    response = await clients["profiles"].get(
        "/api/profiles/search/events", params={"q": tag, "case_id": case, "around": 2}, headers=auth(tokens["viewer"])
    )
    assert response.status_code == 200, response.text
    hits = {hit["session_id"]: hit for hit in response.json()["items"]}
    middle = hits[str(live.session_id)]
    assert middle["seq"] == 4
    assert [(r["seq"], r["body"]) for r in middle["before"]] == [(2, "line 2"), (3, "line 3")]
    assert [(r["seq"], r["body"]) for r in middle["after"]] == [(5, "line 5"), (6, "line 6")]
    # At the start of its chain: the session_start record (seq 0) before it, a join after; nothing of the other live.
    first = hits[str(other.session_id)]
    assert [r["seq"] for r in first["before"]] == [0] and first["before"][0]["kind"] == "session_start"
    assert [(r["seq"], r["kind"]) for r in first["after"]] == [(2, "join")]
    plain = await clients["profiles"].get(
        "/api/profiles/search/events", params={"q": tag, "case_id": case}, headers=auth(tokens["viewer"])
    )
    assert all(hit["before"] == [] and hit["after"] == [] for hit in plain.json()["items"])
    too_many = await clients["profiles"].get(
        "/api/profiles/search/events", params={"q": tag, "around": 11}, headers=auth(tokens["viewer"])
    )
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "query.around"
