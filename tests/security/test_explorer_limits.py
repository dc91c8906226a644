"""The explorer's limits hold while the query runs, and nothing of a query outlives it.

- A result of a thousand 1 MB rows is cut at the 8 MiB answer cap while fetching, so the service
  never holds it whole (it used to grow from 93 MB to 2 GB).
- Session state a query leaves on the pooled connection (settings, LISTEN, advisory locks) is reset
  before the connection serves anyone else, so `scis db migrate` is never stuck behind the explorer.
- Values JSON cannot carry are a 400 that says which value and why, not a 500.
"""

from __future__ import annotations

import asyncio
import resource
import tracemalloc
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User
from scis.core.db import migrate
from scis.database import service
from tests.services.conftest import auth

ADMIN = User(username="t-admin", role=Role.admin)
CONTEXT = AuditContext(actor=ADMIN, source_ip=None, request_id=None, service="test")


async def run(pool: AsyncConnectionPool[Any], app_url: str, sql: str, *, check: bool = True) -> Any:
    async with await psycopg.AsyncConnection.connect(app_url, autocommit=True) as app_conn:
        return await service.run_query(
            app_conn, pool, statement=sql, limit=1000, timeout_ms=20_000, context=CONTEXT, check=check
        )


async def test_huge_rows_stop_at_the_answer_cap_while_fetching(
    explorer_pool: AsyncConnectionPool[Any], postgres_url: str
) -> None:
    peak_rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        result = await run(explorer_pool, postgres_url, "SELECT repeat('x', 1000000) FROM generate_series(1, 1000)")
        _, peak_python = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    peak_rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_rss_before
    assert result.truncated and 1 <= result.row_count <= 8
    # The whole result is 1 GB; fetched a few rows at a time the process holds tens of MB at most.
    assert peak_python < 96 * 1024 * 1024, peak_python
    assert peak_rss_growth < 400 * 1024 * 1024, peak_rss_growth


async def test_the_row_cap_applies_while_fetching(explorer_pool: AsyncConnectionPool[Any], postgres_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as app_conn:
        result = await service.run_query(
            app_conn,
            explorer_pool,
            statement="SELECT g FROM generate_series(1, 10000000) g",
            limit=25,
            timeout_ms=20_000,
            context=CONTEXT,
        )
    assert result.row_count == 25 and result.truncated and result.rows[-1] == [25]


async def test_session_state_does_not_outlive_the_query(
    explorer_pool: AsyncConnectionPool[Any], postgres_url: str
) -> None:
    # With the parser switched off, change a setting for the whole session (not just the transaction).
    changed = await run(explorer_pool, postgres_url, "SELECT set_config('work_mem', '1234kB', false)", check=False)
    assert changed.rows == [["1234kB"]]
    # The pool has one connection, so this query runs on the same session — after its reset.
    after = await run(explorer_pool, postgres_url, "SELECT current_setting('work_mem')")
    assert after.rows != [["1234kB"]]


async def test_the_migration_lock_cannot_be_held_by_the_explorer(
    explorer_pool: AsyncConnectionPool[Any], postgres_url: str, superuser_url: str
) -> None:
    attempt = "SELECT pg_advisory_lock_shared(7362451)"
    with pytest.raises(service.QueryFailed, match="permission denied"):
        await run(explorer_pool, postgres_url, attempt, check=False)
    # And the next query on the same connection finds no lock of its own either.
    own_locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    held = await run(explorer_pool, postgres_url, own_locks, check=False)
    assert held.rows == [[0]]
    # `scis db migrate` takes the lock exclusively: it must not wait for anyone.
    assert await asyncio.wait_for(asyncio.to_thread(migrate, superuser_url), timeout=60) == []


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELECT (repeat('[', 900) || repeat(']', 900))::jsonb AS deep", "nested"),
        ("SELECT '\"\\ud800\"'::json AS half", "surrogate"),
    ],
)
async def test_values_json_cannot_carry_are_a_clear_400(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], sql: str, says: str
) -> None:
    response = await clients["database"].post("/api/database/query", json={"sql": sql}, headers=auth(tokens["admin"]))
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert says in detail and "row 1" in detail, detail
