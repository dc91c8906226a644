"""Watchlists end to end: the simulator plays a live, the analyser captures it into a case, the profiles
service's enricher matches the stored events against the case's watchlist, the alerts are stored, audited,
pushed over Socket.IO to a member of the case (not to anyone else), and acknowledged."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import socketio

from scis.core.settings import Settings
from scis.simulator import SimulatorServer
from tests.services.conftest import auth
from tests.support.cases import make_case
from tests.support.served import served_service


@pytest.fixture
async def analyser(postgres_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, SimulatorServer]]:
    async with SimulatorServer() as sim:
        settings = Settings(
            database_url=postgres_url, redis_url=redis_url, home=tmp_path,
            tiktok_base_url=sim.base_url, webcast_base_url=sim.base_url, watchdog_seconds=3, streak_timeout_seconds=0.5,
        )  # fmt: skip
        async with served_service("analyser", settings) as url:
            yield url, sim


def scenario(target: int, target_handle: str, other: int, other_handle: str, bystander: int) -> dict[str, Any]:
    return {
        "name": "watched",
        "interval": 0.02,
        "users": [
            {"id": target, "handle": target_handle, "nickname": "Target"},
            {"id": other, "handle": other_handle, "nickname": "Other"},
            {"id": bystander, "handle": f"by.{bystander % 10**6}", "nickname": "Bystander"},
        ],
        "steps": [
            {"join": {"user": target_handle}},
            {"chat": {"user": f"by.{bystander % 10**6}", "text": "nothing to see"}},
            {"chat": {"user": f"by.{bystander % 10**6}", "text": "RendezVous at the usual place"}},
            {"chat": {"user": f"by.{bystander % 10**6}", "text": "send it by pay pal please"}},
            {"chat": {"user": other_handle, "text": "hello"}},
            {"chat": {"user": target_handle, "text": "hi all"}},
            {"end": {}},
        ],
    }


async def wait_until(check: Any, what: str, seconds: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.2)


async def test_watched_people_and_words_raise_pushed_alerts(
    analyser: tuple[str, SimulatorServer],
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    accounts: dict[str, str],
    postgres_url: str,
) -> None:
    base, sim = analyser
    profiles = clients["profiles"]
    investigator, viewer = auth(tokens["investigator"]), auth(tokens["viewer"])
    case_id = make_case(postgres_url, created_by="test", members=[accounts["investigator"], accounts["viewer"]])
    elsewhere = make_case(postgres_url, created_by="test", members=[])
    target, other, bystander = (random.randrange(10**17, 10**18) for _ in range(3))
    # The target is watched by user id and appears under a handle the watch never named (a rename).
    target_handle, other_handle = f"renamed.{target % 10**6}", f"other.{other % 10**6}"
    host = f"host.{target % 10**6}"
    watchlist = f"/api/profiles/cases/{case_id}/watchlist"

    bad_regex = await profiles.post(watchlist, json={"kind": "regex", "value": "(unclosed"}, headers=investigator)
    assert bad_regex.status_code == 422 and bad_regex.json()["errors"][0]["field"] == "value"
    assert "not a valid regular expression" in bad_regex.json()["errors"][0]["problem"]
    bad_id = await profiles.post(watchlist, json={"kind": "user_id", "value": "@someone"}, headers=investigator)
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["field"] == "value"
    assert (await profiles.post(watchlist, json={"kind": "keyword", "value": "x"}, headers=viewer)).status_code == 403
    hidden = await profiles.post(f"/api/profiles/cases/{elsewhere}/watchlist", json={"kind": "keyword", "value": "x"},
                                 headers=investigator)  # fmt: skip
    assert hidden.status_code == 404
    watches = {}
    for kind, value in (("user_id", str(target)), ("handle", f"@{other_handle.upper()}"),
                        ("keyword", "rendezvous"), ("regex", r"pay\s*pal")):  # fmt: skip
        added = await profiles.post(watchlist, json={"kind": kind, "value": value, "note": "t"}, headers=investigator)
        assert added.status_code == 201, added.text
        watches[kind] = added.json()
    assert watches["handle"]["value"] == other_handle
    assert [w["kind"] for w in (await profiles.get(watchlist, headers=viewer)).json()] == list(watches)

    pushed: list[dict[str, Any]] = []
    member = socketio.AsyncClient()
    member.on("alert", pushed.append)
    stranger_pushed: list[dict[str, Any]] = []
    stranger = socketio.AsyncClient()
    stranger.on("alert", stranger_pushed.append)
    await member.connect(base, auth={"token": tokens["viewer"]}, transports=["websocket"])
    await stranger.connect(base, auth={"token": tokens["investigator"]}, transports=["websocket"])
    try:
        assert await member.call("watch_case", {"case_id": case_id}, timeout=30) == {
            "ok": True,
            "room": f"case:{case_id}",
        }
        refused = await stranger.call("watch_case", {"case_id": elsewhere}, timeout=30)
        assert refused == {"ok": False, "error": f"no case {elsewhere} of yours"}
        assert (await member.call("watch_case", {"case_id": "x"}, timeout=30))["ok"] is False

        room = sim.add_room(host, scenario=scenario(target, target_handle, other, other_handle, bystander),
                            start="manual")  # fmt: skip
        async with httpx.AsyncClient(base_url=base, timeout=30) as analyser_client:
            started = await analyser_client.post(
                "/api/analyser/monitors", json={"target": f"@{host}", "case_id": case_id}, headers=investigator
            )
            assert started.status_code == 201, started.text
            session_id = started.json()["session_id"]
            room.start()

            async def ended() -> bool:
                monitor = await analyser_client.get(f"/api/analyser/monitors/{session_id}", headers=investigator)
                return bool(monitor.json()["status"] == "ended")

            await wait_until(ended, "the live did not end")

        with psycopg.connect(postgres_url) as conn:
            stored = conn.execute(
                "SELECT seq, kind, user_id, body, chain_hash FROM events WHERE session_id = %s ORDER BY seq",
                (session_id,),
            ).fetchall()
        expected = {
            (seq, watches[kind]["id"])
            for seq, _, user_id, body, _ in stored
            for kind, hit in (
                ("user_id", user_id == target),
                ("handle", user_id == other),
                ("keyword", "rendezvous" in (body or "").lower()),
                ("regex", "pay pal" in (body or "")),
            )
            if hit
        }
        assert {watch for _, watch in expected} == {w["id"] for w in watches.values()}  # each watch matched
        alerts_url = f"/api/profiles/cases/{case_id}/alerts"

        async def all_raised() -> list[dict[str, Any]] | None:
            page = (await profiles.get(alerts_url, headers=viewer)).json()
            return page["items"] if len(page["items"]) >= len(expected) else None

        alerts = await wait_until(all_raised, "the enricher raised no (or not every) alert")
        assert {(a["seq"], a["watch_id"]) for a in alerts} == expected
        chain = {seq: chain_hash for seq, _, _, _, chain_hash in stored}
        assert all(a["session_id"] == session_id and a["chain_hash"] == chain[a["seq"]] for a in alerts)

        async def all_pushed() -> bool:
            return len(pushed) >= len(expected)

        await wait_until(all_pushed, "the alerts were not pushed over Socket.IO")
        assert sorted(a["id"] for a in pushed) == sorted(a["id"] for a in alerts)
        assert stranger_pushed == []
    finally:
        await member.disconnect()
        await stranger.disconnect()

    first = alerts[-1]
    ack_url = f"{alerts_url}/{first['id']}/acknowledge"
    assert (await profiles.post(ack_url, headers=viewer)).status_code == 403
    acked = await profiles.post(ack_url, headers=investigator)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == accounts["investigator"]
    again = await profiles.post(ack_url, headers=auth(tokens["admin"]))
    assert again.json()["acknowledged_by"] == accounts["investigator"]  # the first acknowledgement stays
    still_open = (await profiles.get(alerts_url, params={"open_only": True}, headers=viewer)).json()
    assert still_open["open"] == len(expected) - 1 and first["id"] not in {a["id"] for a in still_open["items"]}

    removed = await profiles.delete(f"{watchlist}/{watches['keyword']['id']}", headers=investigator)
    assert removed.status_code == 204
    assert (await profiles.delete(f"{watchlist}/{watches['keyword']['id']}", headers=investigator)).status_code == 404
    with psycopg.connect(postgres_url) as conn:
        audited = conn.execute(
            "SELECT action, count(*) FROM audit_log WHERE target IN (%s, %s) GROUP BY action",
            (f"case:{case_id}", f"session:{session_id}"),
        ).fetchall()
    counts = dict(audited)
    assert (counts["watch.add"], counts["watch.remove"], counts["alert.acknowledge"]) == (4, 1, 1)
    assert counts["alert.raise"] >= 1  # once per folded batch that raised any
