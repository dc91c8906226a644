"""Subjects and their timeline over HTTP, folded by the profiles service's own enricher, per-case access."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from tests.services.conftest import auth
from tests.subjects.support import T0, append, first_live_records, open_live, second_live_records, unique_user_ids
from tests.support.cases import make_case


async def wait_for_subject(
    client: httpx.AsyncClient, token: str, user_id: int, lives: int, unique_id: str | None = None
) -> dict[str, Any]:
    """The subject once the running enricher has folded `lives` lives of it, and (if given) reached its
    latest handle: a live is counted from its first folded batch, its handle change may come in a later
    one (generous deadline: the machine is busy)."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        response = await client.get(f"/api/profiles/subjects/by-user-id/{user_id}", headers=auth(token))
        found = response.json() if response.status_code == 200 else {}
        if len(found.get("lives", ())) == lives and unique_id in (None, found.get("unique_id")):
            return dict(found)
        assert asyncio.get_running_loop().time() < deadline, response.text
        await asyncio.sleep(0.2)


async def test_subject_and_timeline_follow_case_access(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    client = clients["profiles"]
    alice, bob = unique_user_ids()
    shared_case = make_case(postgres_url, created_by="test", members=[accounts["investigator"]])
    other_case = make_case(postgres_url, created_by="test", members=[])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        shared = await open_live(conn, started_at=T0, case_id=shared_case)
        hidden = await open_live(conn, started_at=T0 + timedelta(hours=1), case_id=other_case)
        await append(conn, shared, first_live_records(alice, bob))
        await append(conn, hidden, second_live_records(alice, bob))

    everything = await wait_for_subject(client, tokens["admin"], alice, lives=2, unique_id="alice_new")
    assert everything["tiktok_user_id"] == str(alice)
    assert everything["unique_id"] == "alice_new"
    assert everything["totals"]["messages"] == 3
    assert {a["value"] for a in everything["aliases"] if a["kind"] == "unique_id"} == {"alice_k", "alice_new"}

    member_view = await wait_for_subject(client, tokens["investigator"], alice, lives=1)
    assert [live["session_id"] for live in member_view["lives"]] == [str(shared.session_id)]
    assert member_view["totals"]["messages"] == 2 and member_view["totals"]["diamonds"] == 5

    subject_id = everything["id"]
    outsider = await client.get(f"/api/profiles/subjects/{subject_id}", headers=auth(tokens["viewer"]))
    assert outsider.status_code == 404
    timeline_url = f"/api/profiles/subjects/{subject_id}/timeline"
    outsider_timeline = await client.get(timeline_url, headers=auth(tokens["viewer"]))
    assert outsider_timeline.status_code == 404

    # Paged three at a time, the admin's timeline is every record of alice in both lives, in order.
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"after": after} if after else {})}
        page = await client.get(
            f"/api/profiles/subjects/{subject_id}/timeline", params=params, headers=auth(tokens["admin"])
        )
        assert page.status_code == 200, page.text
        pages.extend(page.json()["items"])
        after = page.json()["next_cursor"]
        if after is None:
            break
    assert [(item["session_id"], item["seq"]) for item in pages] == [
        *((str(shared.session_id), seq) for seq in (1, 2, 5, 6, 7)),
        *((str(hidden.session_id), seq) for seq in (1, 2, 3)),
    ]
    assert all(len(item["chain_hash"]) == 64 for item in pages)

    member_timeline = await client.get(
        f"/api/profiles/subjects/{subject_id}/timeline",
        params={"kind": ["chat"], "since": (T0 + timedelta(seconds=3)).isoformat()},
        headers=auth(tokens["investigator"]),
    )
    assert [(item["kind"], item["seq"], item["body"]) for item in member_timeline.json()["items"]] == [
        ("chat", 7, "again")
    ]


async def test_timeline_refuses_bad_filters_naming_the_field(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    client = clients["profiles"]
    url = "/api/profiles/subjects/1/timeline"
    bad_kind = await client.get(url, params={"kind": ["chat", "shout"]}, headers=auth(tokens["admin"]))
    assert bad_kind.status_code == 422
    assert bad_kind.json()["errors"][0]["field"] == "kind[1]"
    bad_cursor = await client.get(url, params={"after": "not-a-cursor"}, headers=auth(tokens["admin"]))
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "after"
