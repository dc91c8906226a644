"""Service metrics count what the services did: explorer queries, and sessions left open in the store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from tests.services.conftest import auth


async def scraped(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_explorer_queries_are_counted_by_outcome(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str]
) -> None:
    database = clients["database"]
    before = await scraped(database)
    answered = await database.post(
        "/api/database/query", json={"sql": "SELECT g FROM generate_series(1, 3) g"}, headers=auth(tokens["viewer"])
    )
    refused = await database.post(
        "/api/database/query", json={"sql": "DELETE FROM cases"}, headers=auth(tokens["viewer"])
    )
    assert answered.status_code == 200 and refused.status_code == 400
    after = await scraped(database)

    def grew(name: str, labels: tuple[tuple[str, str], ...] = ()) -> float:
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert grew("scis_explorer_queries_total", (("outcome", "answered"),)) == 1
    assert grew("scis_explorer_queries_total", (("outcome", "refused"),)) == 1
    assert grew("scis_explorer_rows_returned_total") == 3


async def test_a_session_left_live_shows_as_stale_in_the_metrics(
    clients: dict[str, httpx.AsyncClient], postgres_url: str
) -> None:
    abandoned = uuid.uuid4()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO live_sessions (id, target, source, status, started_at)"
            " VALUES (%s, 'gone.away', 'websocket', 'live', %s)",
            (abandoned, datetime.now(UTC) - timedelta(hours=1)),
        )
    try:
        with_it = await scraped(clients["lives"])
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("UPDATE live_sessions SET status = 'failed' WHERE id = %s", (abandoned,))
    without_it = await scraped(clients["lives"])
    assert with_it[("scis_sessions_stale", ())] == without_it[("scis_sessions_stale", ())] + 1
    assert with_it[("scis_sessions_open", ())] == without_it[("scis_sessions_open", ())] + 1
