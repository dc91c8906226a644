"""Defect 5: a capture started (a side effect) is audited even when the request's connection broke."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from scis.analyser.service import audit_done
from scis.core.audit.models import AuditContext
from scis.core.auth.models import Role, User


async def test_the_start_is_audited_on_a_fresh_connection_when_the_requests_one_died(
    pool: AsyncConnectionPool[Any], superuser_url: str
) -> None:
    context = AuditContext(actor=User(username="analyst", role=Role.investigator), source_ip="10.0.0.9",
                           request_id="req-1", service="analyser")  # fmt: skip
    target = f"session:{uuid.uuid4()}"
    async with pool.connection() as request_conn:
        cur = await request_conn.execute("SELECT pg_backend_pid() AS pid")
        pid = (await cur.fetchone())["pid"]
        # As a PostgreSQL restart would: the connection dies (only the owner may end another backend).
        async with await psycopg.AsyncConnection.connect(superuser_url, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await audit_done(request_conn, pool, context, action="monitor.start", target=target,
                         details={"target": "someone"})  # fmt: skip
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT actor, action, details FROM audit_log WHERE target = %s", (target,))
        rows = await cur.fetchall()
    found = [(r["actor"], r["action"], r["details"]) for r in rows]
    assert found == [("analyst", "monitor.start", {"target": "someone"})]
