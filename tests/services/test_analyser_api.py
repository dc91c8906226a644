"""The analyser over real HTTP: start a monitor on the simulator, follow it on Socket.IO, verify it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import socketio

from scis.analyser.captures import OPEN_WAIT_SECONDS
from scis.analyser.models import EventRead
from scis.core.settings import Settings
from scis.simulator import SimulatorServer
from tests.services.conftest import auth
from tests.support.cases import make_case
from tests.support.served import served_service


@pytest.fixture
async def analyser(
    postgres_url: str, redis_url: str, tmp_path: Path, accounts: dict[str, str]
) -> AsyncIterator[tuple[str, SimulatorServer]]:
    async with SimulatorServer() as sim:
        settings = Settings(
            database_url=postgres_url, redis_url=redis_url, home=tmp_path,
            tiktok_base_url=sim.base_url, webcast_base_url=sim.base_url, watchdog_seconds=3, streak_timeout_seconds=0.5,
            wait_poll_seconds=1,
        )  # fmt: skip
        async with served_service("analyser", settings) as url:
            yield url, sim


async def wait_for_status(client: httpx.AsyncClient, session_id: str, token: str, wanted: set[str]) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 90  # generous: the machine is shared
    while True:
        monitor = (await client.get(f"/api/analyser/monitors/{session_id}", headers=auth(token))).json()
        if monitor["status"] in wanted:
            return monitor  # type: ignore[no-any-return]
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"monitor stayed {monitor['status']} ({monitor['status_reason']}) for 90 s, wanted {wanted}")
        await asyncio.sleep(0.05)


async def test_monitor_a_live_end_to_end(
    analyser: tuple[str, SimulatorServer], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    base, sim = analyser
    # The viewer follows the live as a member of its case (per-case access: tests/security).
    case_id = make_case(
        postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"], accounts["viewer"]]
    )
    room = sim.add_room("api.host", scenario="every_message", start="manual")
    token = tokens["investigator"]
    received: list[dict[str, Any]] = []
    sio = socketio.AsyncClient()
    sio.on("events", received.extend)
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        refused = await client.post("/api/analyser/monitors", json={"target": "not a handle!"}, headers=auth(token))
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "target"
        monitor_in = {"target": "@api.host", "case_id": case_id}
        started = await client.post("/api/analyser/monitors", json=monitor_in, headers=auth(token))
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        again = await client.post("/api/analyser/monitors", json=monitor_in, headers=auth(token))
        assert again.status_code == 409

        with pytest.raises(socketio.exceptions.ConnectionError):
            await socketio.AsyncClient().connect(base, transports=["websocket"])
        await sio.connect(base, auth={"token": tokens["viewer"]}, transports=["websocket"])
        joined = await sio.call("join", {"session_id": session_id})
        assert joined["ok"] is True
        room.start()  # the live plays only once the browser follows it

        monitor = await wait_for_status(client, session_id, token, {"ended"})
        page = await client.get(f"/api/analyser/sessions/{session_id}/events?limit=1000", headers=auth(token))
        stored = page.json()["items"]
        kinds = {item["kind"] for item in stored}
        assert {"chat", "gift", "like", "join", "follow", "share", "viewers"} <= kinds
        sent_chats = [e.msg_id for e in room.sent_events() if e.kind == "chat"]
        chats = await client.get(f"/api/analyser/sessions/{session_id}/events?kind=chat", headers=auth(token))
        assert [int(item["msg_id"]) for item in chats.json()["items"]] == sent_chats
        assert monitor["events_by_kind"]["chat"] == len(sent_chats)

        verified = await client.get(f"/api/analyser/sessions/{session_id}/verify", headers=auth(tokens["viewer"]))
        assert verified.json()["intact"] is True and verified.json()["sealed"] is True

        for _ in range(100):
            if len(received) >= len(stored):
                break
            await asyncio.sleep(0.05)
        await sio.disconnect()
        seqs = [payload["seq"] for payload in received]
        assert seqs == sorted(seqs) and len(received) >= len(stored) - 1
        # One event, one shape: what the browser got on Socket.IO is the REST answer for the same event.
        by_seq = {item["seq"]: item for item in stored}
        assert received and all(payload == by_seq[payload["seq"]] for payload in received)
        assert list(received[0]) == list(stored[0]) == list(EventRead.model_fields)


async def test_a_dropped_socket_gap_is_listed_as_filled_by_the_resent_frame(
    analyser: tuple[str, SimulatorServer], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    base, sim = analyser
    case_id = make_case(postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"]])
    room = sim.add_room("gaps.host", rate=200, seed=5)
    token = tokens["investigator"]
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        started = await client.post("/api/analyser/monitors", json={"target": "@gaps.host", "case_id": case_id},
                                    headers=auth(token))  # fmt: skip
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        for _ in range(600):
            if room.connections and len(room.sent_messages) > 200:
                break
            await asyncio.sleep(0.1)
        connections = room.connections
        room.fault("drop", code=1011, reason="simulated drop")
        for _ in range(1200):  # reconnected, and a few frames later
            if room.connections > connections and room.sessions:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        room.end()
        await wait_for_status(client, session_id, token, {"ended"})
        answer = await client.get(f"/api/analyser/sessions/{session_id}/gaps", headers=auth(token))
        assert answer.status_code == 200, answer.text
        (gap,) = answer.json()
        assert gap["reason"] == "disconnect" and gap["filled"] == "completely", gap
        assert gap["filled_by"]["session_id"] == session_id and gap["filled_by"]["seq"] > gap["seq"]
        assert isinstance(gap["filled_records"], int) and gap["filled_records"] >= 0  # re-sent from its span
        page = await client.get(f"/api/analyser/sessions/{session_id}/events?kind=gap_filled", headers=auth(token))
        (fill,) = page.json()["items"]
        assert fill["seq"] == gap["filled_by"]["seq"] and fill["data"]["gap"]["seq"] == gap["seq"]
        assert fill["data"]["evidence"]["already_stored_messages_resent"] > 0
        outsider = await client.get(f"/api/analyser/sessions/{session_id}/gaps", headers=auth(tokens["viewer"]))
        assert outsider.status_code == 404


async def test_a_waiting_monitor_is_listed_as_waiting_then_captures(
    analyser: tuple[str, SimulatorServer], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    """`wait: true`: an offline target is listed with status waiting (no session stored), captured once it
    goes live; a waiting monitor stopped before the live is stopped with nothing captured."""
    base, sim = analyser
    case_id = make_case(postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"]])
    room = sim.add_room("api.waiter", state="offline", rate=30, seed=6)
    sim.add_room("api.never", state="offline", rate=30, seed=7)
    token = tokens["investigator"]
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        refused = await client.post(
            "/api/analyser/monitors",
            json={"target": "@api.waiter", "source": "replay", "replay_file": "x", "wait": True},
            headers=auth(token),
        )
        assert refused.status_code == 422 and "wait" in refused.text
        asked = asyncio.get_running_loop().time()
        started = await client.post(
            "/api/analyser/monitors", json={"target": "@api.waiter", "case_id": case_id, "wait": True},
            headers=auth(token),
        )  # fmt: skip
        assert started.status_code == 201, started.text
        # The answer comes with the first poll, not after the wait for a live to open runs out.
        assert asyncio.get_running_loop().time() - asked < OPEN_WAIT_SECONDS
        monitor = started.json()
        assert monitor["status"] == "waiting" and "waiting for the live" in monitor["status_reason"]
        listed = (await client.get("/api/analyser/monitors?active=true", headers=auth(token))).json()
        assert [m["status"] for m in listed if m["session_id"] == monitor["session_id"]] == ["waiting"]
        sessions = await client.get(f"/api/analyser/sessions?case_id={case_id}", headers=auth(token))
        assert sessions.json() == [], "waiting stores no session"
        twice = await client.post(
            "/api/analyser/monitors", json={"target": "@api.waiter", "case_id": case_id, "wait": True},
            headers=auth(token),
        )  # fmt: skip
        assert twice.status_code == 409, "a waiting monitor owns its target"

        room.go_live()
        await wait_for_status(client, monitor["session_id"], token, {"live"})
        stopped = await client.delete(f"/api/analyser/monitors/{monitor['session_id']}", headers=auth(token))
        assert stopped.json()["status"] == "stopped" and stopped.json()["events_total"] > 0

        never = await client.post(
            "/api/analyser/monitors", json={"target": "@api.never", "case_id": case_id, "wait": True},
            headers=auth(token),
        )  # fmt: skip
        assert never.json()["status"] == "waiting"
        ended = await client.delete(f"/api/analyser/monitors/{never.json()['session_id']}", headers=auth(token))
        assert ended.json()["status"] == "stopped" and ended.json()["status_reason"].startswith("stopped while waiting")
        sessions = (await client.get(f"/api/analyser/sessions?case_id={case_id}", headers=auth(token))).json()
        assert [s["target"] for s in sessions] == ["api.waiter"]
    await room.stop()


async def _monitors_of(client: httpx.AsyncClient, token: str, target: str) -> list[dict[str, Any]]:
    listed = (await client.get("/api/analyser/monitors", headers=auth(token))).json()
    return [m for m in listed if m["target"] == target]


async def _until_monitor(client: httpx.AsyncClient, token: str, target: str, check: Any) -> list[dict[str, Any]]:
    for _ in range(600):  # generous: the machine is shared
        monitors = await _monitors_of(client, token, target)
        if check(monitors):
            return monitors
        await asyncio.sleep(0.1)
    pytest.fail(f"monitors of @{target}: {[(m['session_id'], m['status']) for m in monitors]}")


async def test_a_monitor_with_again_waits_for_each_next_live_until_stopped(
    analyser: tuple[str, SimulatorServer], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    """`wait` + `again`: offline -> live -> end -> live again gives two stored sessions with events, the
    second started by the analyser itself (audited as a start of the same request); stopping the chain
    through its FIRST session id stops the capture now waiting, and no further live is captured."""
    base, sim = analyser
    case_id = make_case(postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"]])
    room = sim.add_room("api.again", state="offline", rate=30, seed=8)
    token = tokens["investigator"]
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        refused = await client.post(
            "/api/analyser/monitors", json={"target": "@api.again", "case_id": case_id, "again": True},
            headers=auth(token),
        )  # fmt: skip
        assert refused.status_code == 422 and "again needs wait" in refused.text, refused.text
        started = await client.post(
            "/api/analyser/monitors", json={"target": "@api.again", "case_id": case_id, "wait": True, "again": True},
            headers=auth(token),
        )  # fmt: skip
        assert started.status_code == 201 and started.json()["status"] == "waiting", started.text
        first = started.json()["session_id"]

        def live_with_events(monitors: list[dict[str, Any]]) -> bool:
            return monitors[0]["status"] == "live" and monitors[0]["events_total"] >= 20

        room.go_live()
        await _until_monitor(client, token, "api.again", live_with_events)
        room.end()
        monitors = await _until_monitor(
            client, token, "api.again", lambda ms: len(ms) == 2 and ms[0]["status"] == "waiting"
        )
        second = monitors[0]["session_id"]
        assert second != first and [m["status"] for m in monitors] == ["waiting", "ended"]

        room.go_live()
        await _until_monitor(
            client, token, "api.again", lambda ms: ms[0]["session_id"] == second and live_with_events(ms)
        )
        room.end()
        monitors = await _until_monitor(
            client, token, "api.again", lambda ms: len(ms) == 3 and ms[0]["status"] == "waiting"
        )
        third = monitors[0]["session_id"]

        stopped = await client.delete(f"/api/analyser/monitors/{first}", headers=auth(token))
        assert stopped.status_code == 200, stopped.text
        waiting = (await client.get(f"/api/analyser/monitors/{third}", headers=auth(token))).json()
        assert waiting["status"] == "stopped" and waiting["status_reason"].startswith("stopped while waiting")
        room.go_live()
        await asyncio.sleep(4)  # several polls' worth: a chain still running would start capturing now
        monitors = await _monitors_of(client, token, "api.again")
        assert [m["session_id"] for m in monitors] == [third, second, first], "nothing starts after a stop"
        assert [m["status"] for m in monitors] == ["stopped", "ended", "ended"]

        sessions = (await client.get(f"/api/analyser/sessions?case_id={case_id}", headers=auth(token))).json()
        assert sorted(str(s["id"]) for s in sessions) == sorted([first, second])
        with psycopg.connect(postgres_url) as conn:
            counts = conn.execute(
                "SELECT session_id::text, count(*) FROM events WHERE session_id = ANY(%s::uuid[]) GROUP BY 1",
                ([first, second],),
            ).fetchall()
            audit_rows = conn.execute(
                "SELECT target, actor, details->>'again_after' FROM audit_log WHERE action = 'monitor.start' "
                "AND details->>'target' = 'api.again' ORDER BY id"
            ).fetchall()
        assert len(counts) == 2 and all(count >= 20 for _, count in counts), counts
        assert audit_rows == [
            (f"session:{first}", accounts["investigator"], None),
            (f"session:{second}", accounts["investigator"], first),
            (f"session:{third}", accounts["investigator"], first),
        ], audit_rows
    await room.stop()
