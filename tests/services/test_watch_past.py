"""A watch made with scan_past raises alerts for the evidence its case already holds, and the live path
(the enricher folding records) never raises a record twice for it, in whichever order the two run."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from scis.profiles.watch.service import raise_alerts
from tests.services.conftest import auth
from tests.subjects.support import T0, append, event, open_live, unique_user_ids
from tests.support.cases import make_case


async def alerts_of(client: httpx.AsyncClient, token: str, case_id: int, watch_id: int) -> list[dict[str, Any]]:
    page = await client.get(f"/api/profiles/cases/{case_id}/alerts", params={"limit": 500}, headers=auth(token))
    assert page.status_code == 200, page.text
    return [alert for alert in page.json()["items"] if alert["watch_id"] == watch_id]


async def test_scan_past_raises_old_matches_once_beside_the_live_path(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    profiles, token = clients["profiles"], tokens["investigator"]
    alice, bob = unique_user_ids()
    case_id = make_case(postgres_url, created_by="test", members=[accounts["investigator"]])
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        live = await open_live(conn, started_at=T0, case_id=case_id)
        await append(conn, live, [
            event("chat", T0 + timedelta(seconds=1), alice, "alice_k", "Alice", body="meet at the Docks"),
            event("chat", T0 + timedelta(seconds=2), bob, "bob", "Bob", body="nothing"),
            event("chat", T0 + timedelta(seconds=3), alice, "alice_k", "Alice", body="the DOCKS again"),
        ])  # fmt: skip

    watchlist = f"/api/profiles/cases/{case_id}/watchlist"
    looking_back = await profiles.post(watchlist, json={"kind": "keyword", "value": "docks", "scan_past": True},
                                       headers=auth(token))  # fmt: skip
    assert looking_back.status_code == 201, looking_back.text
    back = looking_back.json()
    assert back["scans_past"] is True and back["past_alerts"] == 2
    forward = await profiles.post(watchlist, json={"kind": "keyword", "value": "docks"}, headers=auth(token))
    assert forward.status_code == 201 and forward.json()["past_alerts"] == 0 and forward.json()["scans_past"] is False
    assert {(a["seq"], a["body"]) for a in await alerts_of(profiles, token, case_id, back["id"])} == {
        (1, "meet at the Docks"), (3, "the DOCKS again")
    }  # fmt: skip

    # A record of the same live arrives late, captured before either watch existed: the enricher (the
    # live path, running in the profiles app) raises it for the watch that scans the past only.
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await append(conn, live, [
            event("chat", T0 + timedelta(seconds=4), bob, "bob", "Bob", body="docks at dawn"),
            event("chat", T0 + timedelta(seconds=5), bob, "bob", "Bob", body="ok"),
        ])  # fmt: skip
    deadline = asyncio.get_running_loop().time() + 90
    while len(await alerts_of(profiles, token, case_id, back["id"])) < 3:
        assert asyncio.get_running_loop().time() < deadline, "the enricher did not raise the late record"
        await asyncio.sleep(0.3)

    # The live path folding the whole live again (a rebuild, or a fold racing the scan) adds nothing.
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn, conn.transaction():
        again = await raise_alerts(conn, session_id=live.session_id, after_seq=-1, upto_seq=10**6)
    assert again == []

    raised = await alerts_of(profiles, token, case_id, back["id"])
    assert sorted(a["seq"] for a in raised) == [1, 3, 4]  # each record once
    assert await alerts_of(profiles, token, case_id, forward.json()["id"]) == []  # looks forward only
    with psycopg.connect(postgres_url) as conn:
        chain = dict(conn.execute("SELECT seq, chain_hash FROM events WHERE session_id = %s", (live.session_id,)))
        audited = conn.execute(
            """SELECT details FROM audit_log WHERE action = 'alert.raise' AND target = %s
                AND (details ->> 'watch_id')::bigint = %s""",
            (f"case:{case_id}", back["id"]),
        ).fetchall()
    assert all(a["chain_hash"] == chain[a["seq"]] for a in raised)
    assert len(audited) == 1 and audited[0][0]["past"] is True and len(audited[0][0]["alert_ids"]) == 2
