"""The explorer's analyst features through the real service: history, saved queries, the schema
browser, cancelling one's own running query, CSV export under the same caps, and syntax errors
answered with their line and column."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid

import httpx
import psycopg
import pytest

from scis.core import bus
from scis.core.settings import Settings
from scis.database import service
from tests.services.conftest import auth
from tests.support.cases import make_case


async def post_query(client: httpx.AsyncClient, token: str, **body: object) -> httpx.Response:
    return await client.post("/api/database/query", json=body, headers=auth(token))


async def test_history_is_per_account_with_outcomes(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    database = clients["database"]
    marker = uuid.uuid4().hex[:8]
    assert (await post_query(database, tokens["viewer"], sql=f"SELECT '{marker}' AS m")).status_code == 200
    assert (await post_query(database, tokens["viewer"], sql=f"DELETE FROM cases -- {marker}")).status_code == 400
    assert (await post_query(database, tokens["viewer"], sql=f"SELECT nope_{marker} FROM cases")).status_code == 400
    mine = (await database.get("/api/database/history?limit=20", headers=auth(tokens["viewer"]))).json()
    outcomes = {entry["sql"]: entry for entry in mine if marker in entry["sql"]}
    assert outcomes[f"SELECT '{marker}' AS m"]["outcome"] == "answered"
    assert outcomes[f"SELECT '{marker}' AS m"]["row_count"] == 1
    assert outcomes[f"DELETE FROM cases -- {marker}"]["outcome"] == "refused"
    failed = outcomes[f"SELECT nope_{marker} FROM cases"]
    assert failed["outcome"] == "failed" and f"nope_{marker}" in failed["error"]
    assert "(at line 1, column 8)" in failed["error"]
    theirs = (await database.get("/api/database/history?limit=500", headers=auth(tokens["admin"]))).json()
    assert not [entry for entry in theirs if marker in entry["sql"]], "an account's history is its own"


async def test_a_syntax_error_is_a_422_with_line_and_column(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    response = await post_query(clients["database"], tokens["viewer"], sql="SELECT id\nFROM cases\nWHERE (id = 1")
    assert response.status_code == 422, response.text
    problem = response.json()["errors"][0]
    assert problem["field"] == "sql" and problem["value"] == {"line": 3, "column": 13}
    assert "line 3, column 13" in problem["problem"]
    unclosed = await post_query(clients["database"], tokens["viewer"], sql="SELECT 1,\n  'abc")
    assert unclosed.status_code == 422 and unclosed.json()["errors"][0]["value"]["line"] == 2


async def test_saved_queries_are_private_or_shared_with_a_case(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], accounts: dict[str, str], postgres_url: str
) -> None:
    database = clients["database"]
    case_id = make_case(postgres_url, created_by="test", members=[accounts["viewer"], accounts["investigator"]])
    other_case = make_case(postgres_url, created_by="test", members=[accounts["admin"]])
    name = f"top gifters {uuid.uuid4().hex[:6]}"
    sql = "SELECT unique_id, sum(diamond_count) FROM events WHERE kind = 'gift' GROUP BY 1 ORDER BY 2 DESC"
    shared = await database.post(
        "/api/database/saved", json={"name": name, "sql": sql, "case_id": case_id}, headers=auth(tokens["viewer"])
    )
    assert shared.status_code == 201, shared.text
    private = await database.post(
        "/api/database/saved", json={"name": name + " (mine)", "sql": "SELECT 1"}, headers=auth(tokens["viewer"])
    )
    assert private.status_code == 201
    again = await database.post("/api/database/saved", json={"name": name, "sql": "SELECT 2"},
                                headers=auth(tokens["viewer"]))  # fmt: skip
    assert again.status_code == 409 and "already have a saved query named" in again.json()["detail"]
    bad = await database.post("/api/database/saved", json={"name": "bad", "sql": "SELECT (1"},
                              headers=auth(tokens["viewer"]))  # fmt: skip
    assert bad.status_code == 422 and bad.json()["errors"][0]["value"] == {"line": 1, "column": 9}
    not_mine = await database.post(
        "/api/database/saved", json={"name": "x", "sql": "SELECT 1", "case_id": other_case},
        headers=auth(tokens["viewer"]),
    )  # fmt: skip
    assert not_mine.status_code == 422 and not_mine.json()["errors"][0]["field"] == "case_id"

    seen_by_colleague = (await database.get(f"/api/database/saved?case_id={case_id}",
                                            headers=auth(tokens["investigator"]))).json()  # fmt: skip
    assert [item["name"] for item in seen_by_colleague] == [name]
    everything_of_colleague = (await database.get("/api/database/saved", headers=auth(tokens["investigator"]))).json()
    assert name + " (mine)" not in {item["name"] for item in everything_of_colleague}
    # Someone else's saved query cannot be deleted; one's own can.
    gone = await database.delete(f"/api/database/saved/{shared.json()['id']}", headers=auth(tokens["investigator"]))
    assert gone.status_code == 404
    gone = await database.delete(f"/api/database/saved/{shared.json()['id']}", headers=auth(tokens["viewer"]))
    assert gone.status_code == 204


async def test_the_schema_browser_shows_views_columns_types_and_comments(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    tables = (await clients["database"].get("/api/database/tables", headers=auth(tokens["viewer"]))).json()
    by_name = {table["name"]: table for table in tables}
    assert {"events", "live_sessions", "report_jobs", "cases"} <= set(by_name)
    assert "hash chain" in by_name["live_sessions"]["comment"] or "hash-chain" in by_name["live_sessions"]["comment"]
    seq = {column["name"]: column for column in by_name["events"]["columns"]}["seq"]
    assert seq["type"] == "bigint" and "hash chain" in seq["comment"]
    assert "explorer_history" not in by_name and "explorer_saved_queries" not in by_name


async def wait_for_grant(postgres_url: str, query_id: uuid.UUID) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with psycopg.connect(postgres_url) as conn:
            if conn.execute("SELECT 1 FROM explorer_grants WHERE query_id = %s", (query_id,)).fetchone():
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the query never started")


@pytest.mark.parametrize("route", ["api", "another replica"])
async def test_an_analyst_cancels_their_own_running_query_and_nobody_elses(
    route: str,
    clients: dict[str, httpx.AsyncClient],
    tokens: dict[str, str],
    settings: Settings,
    postgres_url: str,
    redis_url: str,
) -> None:
    database = clients["database"]
    settings.query_timeout_ms = 120_000
    query_id = uuid.uuid4()
    started = time.monotonic()
    try:
        running = asyncio.create_task(
            post_query(database, tokens["viewer"], sql="SELECT pg_sleep(100)", query_id=str(query_id))
        )
        await wait_for_grant(postgres_url, query_id)
        someone_else = await database.post(f"/api/database/queries/{query_id}/cancel", headers=auth(tokens["admin"]))
        assert someone_else.status_code == 404 and "no query" in someone_else.json()["detail"]
        if route == "api":
            cancelled = await database.post(f"/api/database/queries/{query_id}/cancel", headers=auth(tokens["viewer"]))
            assert cancelled.status_code == 204, cancelled.text
        else:
            # What a replica not running the query sends: the one running it cancels on the message.
            client = bus.connect(redis_url)
            try:
                delivered = await bus.publish(
                    client, service.CANCEL_CHANNEL, {"query_id": str(query_id), "username": "t-viewer"}
                )
            finally:
                await client.aclose()
            assert delivered >= 1
        response = await asyncio.wait_for(running, timeout=60)
    finally:
        settings.query_timeout_ms = 5000
    assert response.status_code == 400 and response.json()["detail"] == "sql: the query was cancelled"
    assert time.monotonic() - started < 60, "stopped by the cancel, not by finishing"
    after = await database.post(f"/api/database/queries/{query_id}/cancel", headers=auth(tokens["viewer"]))
    assert after.status_code == 404
    history = (await database.get("/api/database/history?limit=5", headers=auth(tokens["viewer"]))).json()
    assert history[0]["sql"] == "SELECT pg_sleep(100)" and history[0]["outcome"] == "cancelled"


async def test_csv_export_streams_rows_under_the_same_caps(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], settings: Settings
) -> None:
    database = clients["database"]
    sql = """SELECT i, CASE WHEN i % 2 = 0 THEN NULL ELSE 'line, "quoted"' END AS text,
                    jsonb_build_object('n', i) AS doc FROM generate_series(1, 5000) AS i"""
    response = await database.post("/api/database/query.csv", json={"sql": sql}, headers=auth(tokens["viewer"]))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["i", "text", "doc"]
    assert len(rows) == 1 + settings.query_row_limit, "the row cap holds"
    assert rows[1] == ["1", 'line, "quoted"', '{"n": 1}'] and rows[2] == ["2", "", '{"n": 2}']
    assert response.headers["x-scis-row-limit"] == str(settings.query_row_limit)

    big = "SELECT i, repeat('x', 100000) AS filler FROM generate_series(1, 200) AS i"
    response = await database.post("/api/database/query.csv", json={"sql": big}, headers=auth(tokens["viewer"]))
    assert response.status_code == 200
    assert len(response.content) <= service.MAX_RESULT_BYTES, "the size cap holds"
    assert 70 <= len(response.text.splitlines()) <= 90

    refused = await database.post("/api/database/query.csv", json={"sql": "DROP TABLE cases"},
                                  headers=auth(tokens["viewer"]))  # fmt: skip
    assert refused.status_code == 400 and "DROP" in refused.json()["detail"]
    history = (await database.get("/api/database/history?limit=3", headers=auth(tokens["viewer"]))).json()
    assert [(entry["format"], entry["outcome"], entry["truncated"]) for entry in history] == [
        ("csv", "refused", False),
        ("csv", "answered", True),
        ("csv", "answered", True),
    ]


async def test_history_is_pruned_per_account_beyond_the_setting(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scis.core.settings import get_settings

    mine, theirs = f"prune-{uuid.uuid4().hex[:8]}", f"keep-{uuid.uuid4().hex[:8]}"

    async def kept(conn: psycopg.AsyncConnection, username: str) -> list[str]:
        cur = await conn.execute(
            "SELECT sql FROM explorer_history WHERE username = %s ORDER BY ran_at DESC, id", (username,)
        )
        return [row[0] for row in await cur.fetchall()]

    monkeypatch.setenv("SCIS_EXPLORER_HISTORY_KEEP", "3")
    get_settings.cache_clear()
    try:
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            for n in range(5):
                await service.record_history(conn, username=theirs, statement=f"SELECT {n}", outcome="answered")
            await conn.execute("UPDATE explorer_history SET ran_at = now() - interval '1 day' WHERE username = %s",
                               (theirs,))  # fmt: skip
            for n in range(5):
                await service.record_history(conn, username=mine, statement=f"SELECT {n}", outcome="answered")
            assert await kept(conn, mine) == ["SELECT 4", "SELECT 3", "SELECT 2"], "the newest three are kept"
            assert len(await kept(conn, theirs)) == 3  # pruned by their own entries, not by mine
            assert await service.prune_history(conn, username=mine, keep=0) == 0  # 0 keeps everything
            assert await service.prune_history(conn, username=mine, keep=1) == 2
            assert await kept(conn, mine) == ["SELECT 4"]
    finally:
        get_settings.cache_clear()
