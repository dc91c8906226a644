"""Ready-made explorer queries and the readable EXPLAIN, against lives captured from the simulator:
each answer equals what the scenario itself says (gift streaks counted once with their final count,
the joins between two of its moments, every line a user typed)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from scis.core.settings import Settings
from scis.simulator import SimulatorServer
from scis.simulator.scenario import Scenario, load_scenario
from tests.capture.support import capture_settings, new_capture, opened_pool, wait_for
from tests.services.conftest import auth
from tests.support.cases import make_case


def scenario_diamonds(scenario: Scenario) -> dict[str, int]:
    """Per handle: each gift step's diamonds times its streak's final count (1 without a streak)."""
    totals: dict[str, int] = defaultdict(int)
    for step in scenario.steps:
        if step.kind == "gift":
            streak = step.args.get("streak") or [1]
            totals[scenario.user(step.args["user"]).handle] += step.args["diamonds"] * streak[-1]
    return dict(totals)


@pytest.fixture(scope="module")
async def captured(postgres_url: str, settings: Settings, accounts: dict[str, str]) -> dict[str, Any]:
    """Two lives of a case the investigator belongs to: gift_streaks and evening_live, ended."""
    case_id = make_case(postgres_url, created_by=accounts["admin"], members=[accounts["investigator"]])
    sessions: dict[str, str] = {}
    capture_in = capture_settings(settings.home)
    async with SimulatorServer() as sim, opened_pool(postgres_url) as pool:
        for scenario in ("gift_streaks", "evening_live"):
            room = sim.add_room(f"b_{scenario}", scenario)
            capture = new_capture(sim, f"b_{scenario}", capture_in, pool, case_id=case_id)
            running = asyncio.create_task(capture.run())
            await wait_for(lambda room=room: room.finished.is_set(), seconds=60)
            await asyncio.sleep(capture_in.streak_timeout_seconds + 1.0)  # gift_streaks leaves one streak open
            room.end()
            await asyncio.wait_for(running, 60)
            sessions[scenario] = str(capture.session_id)
    return {"case_id": case_id, "sessions": sessions}


async def builtin(client: httpx.AsyncClient, token: str, name: str, **parameters: Any) -> httpx.Response:
    return await client.post(f"/api/database/builtin/{name}", json={"parameters": parameters}, headers=auth(token))


def rows_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


async def test_the_ready_made_queries_are_listed_with_their_parameters(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    listed = await clients["database"].get("/api/database/builtin", headers=auth(tokens["viewer"]))
    assert listed.status_code == 200, listed.text
    by_name = {item["name"]: item for item in listed.json()}
    assert set(by_name) == {"top_gifters", "joined_between", "user_said"}
    assert [p["name"] for p in by_name["joined_between"]["parameters"]] == ["session_id", "from", "to"]
    assert [p["type"] for p in by_name["top_gifters"]["parameters"]] == ["session", "integer"]


async def test_top_gifters_count_each_streak_once_with_its_final_count(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], captured: dict[str, Any]
) -> None:
    database, token = clients["database"], tokens["investigator"]
    for name, session_id in captured["sessions"].items():
        expected = scenario_diamonds(load_scenario(name))
        answer = rows_of(await builtin(database, token, "top_gifters", session_id=session_id))
        assert {row["unique_id"]: row["diamonds"] for row in answer} == expected, name
        assert [row["diamonds"] for row in answer] == sorted(expected.values(), reverse=True)
    # gift_streaks: giver_one's TikTok streak never ended; it is counted (3) and said to be inferred.
    streaks = rows_of(await builtin(database, token, "top_gifters", session_id=captured["sessions"]["gift_streaks"]))
    giver_one = next(row for row in streaks if row["unique_id"] == "giver_one")
    assert (giver_one["streaks"], giver_one["gifts"], giver_one["streaks_inferred"]) == (2, 8, 1)
    first = rows_of(await builtin(database, token, "top_gifters", session_id=captured["sessions"]["gift_streaks"],
                                  limit=1))  # fmt: skip
    assert [row["unique_id"] for row in first] == ["giver_two"]


async def test_who_joined_between_two_moments_of_the_live(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], captured: dict[str, Any], postgres_url: str
) -> None:
    session_id = captured["sessions"]["evening_live"]
    scenario = load_scenario("evening_live")
    # From the "first!" chat (0.4 s) to the "late again" one (3.0 s): the scenario's joins between them.
    with psycopg.connect(postgres_url) as conn:
        moments = dict(conn.execute(
            "SELECT body, coalesce(server_time, captured_at) FROM events WHERE session_id = %s AND kind = 'chat'",
            (session_id,),
        ).fetchall())  # fmt: skip
    start, end = moments["first!"], moments["late again"]
    assert isinstance(start, datetime) and isinstance(end, datetime)
    at = {"first!": 0.4, "late again": 3.0}
    expected = [
        scenario.user(step.args["user"]).handle
        for step in scenario.steps
        if step.kind == "join" and step.at is not None and at["first!"] <= step.at <= at["late again"]
    ]
    window = {"from": start.isoformat(), "to": end.isoformat()}
    answer = rows_of(
        await builtin(clients["database"], tokens["investigator"], "joined_between", session_id=session_id, **window)
    )
    assert [row["unique_id"] for row in answer] == expected == ["daisy.day", "sam_s"]


async def test_everything_a_user_said_by_handle_or_by_id(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], captured: dict[str, Any]
) -> None:
    database, token = clients["database"], tokens["investigator"]
    for name in captured["sessions"]:
        scenario = load_scenario(name)
        for user in scenario.users.values():
            said = [step.args["text"] for step in scenario.steps
                    if step.kind == "chat" and scenario.user(step.args["user"]).id == user.id]  # fmt: skip
            by_handle = rows_of(await builtin(database, token, "user_said", user=f"@{user.handle}"))
            by_id = rows_of(await builtin(database, token, "user_said", user=str(user.id)))
            assert [row["body"] for row in by_handle] == said, (name, user.handle)
            assert by_id == by_handle
    # A value is a quoted literal, never SQL: this finds nobody and changes nothing.
    hostile = rows_of(await builtin(database, token, "user_said", user="x' OR 1=1; DELETE FROM events --"))
    assert hostile == []
    # A viewer who is not a member of the case sees none of it.
    outsider = rows_of(await builtin(database, tokens["viewer"], "user_said", user="@nightowl"))
    assert outsider == []


async def test_bad_parameters_are_named(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], captured: dict[str, Any]
) -> None:
    database, token = clients["database"], tokens["investigator"]
    missing = await builtin(database, token, "top_gifters")
    assert missing.status_code == 422, missing.text
    assert "parameters.session_id" in missing.text and "required" in missing.text
    wrong = await builtin(database, token, "joined_between", session_id=captured["sessions"]["evening_live"],
                          **{"from": "yesterday", "to": "2026-01-01T00:00:00Z"})  # fmt: skip
    assert wrong.status_code == 422 and "parameters.from" in wrong.text and "ISO 8601" in wrong.text
    extra = await builtin(database, token, "user_said", user="x", limit=3)
    assert extra.status_code == 422 and "parameters.limit" in extra.text
    too_many = await builtin(database, token, "top_gifters", session_id=captured["sessions"]["evening_live"],
                             limit=100_000)  # fmt: skip
    assert too_many.status_code == 422 and "at most 1000" in too_many.text
    unknown = await builtin(database, token, "drop_everything")
    assert unknown.status_code == 404 and "GET /api/database/builtin" in unknown.text


async def test_explain_comes_back_as_a_tree(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], captured: dict[str, Any]
) -> None:
    database, token = clients["database"], tokens["investigator"]
    # this test's lives only: the database is shared with the rest of the suite
    ids = ", ".join(f"'{session_id}'" for session_id in captured["sessions"].values())
    query = ("SELECT s.target, count(*) FROM events e JOIN live_sessions s ON s.id = e.session_id"
             f" WHERE e.kind = 'chat' AND s.id IN ({ids}) GROUP BY s.target")  # fmt: skip
    planned = await database.post("/api/database/explain", json={"sql": query}, headers=auth(token))
    assert planned.status_code == 200, planned.text
    body = planned.json()
    assert body["sql"].startswith("EXPLAIN (FORMAT JSON) SELECT") and body["execution_ms"] is None

    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [node, *(item for child in node["children"] for item in walk(child))]

    nodes = walk(body["plan"])
    assert nodes[0]["node_type"] and all(node["total_cost"] is not None for node in nodes)
    assert all(node["rows_actual"] is None for node in nodes), "no ANALYZE: nothing actual"
    read = " ".join(node["relation"] or "" for node in nodes)
    assert "events" in read or "live_sessions" in read, read
    assert body["raw"][0]["Plan"]["Node Type"] == nodes[0]["node_type"]

    analyzed = await database.post("/api/database/explain", json={"sql": query, "analyze": True}, headers=auth(token))
    assert analyzed.status_code == 200, analyzed.text
    result = analyzed.json()
    assert result["execution_ms"] is not None and result["plan"]["rows_actual"] == len(captured["sessions"])
    assert result["plan"]["time_ms"] is not None and result["plan"]["loops"] == 1

    # The same checks as any query: no write inside, no EXPLAIN twice, syntax errors with their place.
    for sql_text, status, says in (
        ("WITH x AS (DELETE FROM events RETURNING 1) SELECT 1", 400, "not allowed"),
        ("EXPLAIN SELECT 1", 400, "without EXPLAIN"),
        ("SELECT FROM WHERE (", 422, "line"),
    ):
        refused = await database.post("/api/database/explain", json={"sql": sql_text}, headers=auth(token))
        assert refused.status_code == status and says in refused.text, (sql_text, refused.text)
