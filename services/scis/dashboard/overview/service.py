"""Probing every service's readiness and counting what the evidence store holds."""

from __future__ import annotations

import asyncio
import time

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from scis.core.peers import PeerClient
from scis.core.settings import SERVICE_NAMES
from scis.core.status import SessionStatus
from scis.dashboard.overview.models import KeyFigures, ServiceHealth


async def probe(peers: PeerClient, service: str) -> ServiceHealth:
    started = time.perf_counter()
    try:
        url = await peers.discovery.resolve(service)
        response = await peers.request(service, "GET", "/readyz", timeout=3.0)
        latency = (time.perf_counter() - started) * 1000
        body = response.json()
        detail = ", ".join(f"{k}: {v}" for k, v in body.get("checks", {}).items() if v != "ok")
        status = "ready" if response.status_code == 200 else "not ready"
        return ServiceHealth(service=service, url=url, status=status, detail=detail, latency_ms=round(latency, 1))
    except Exception as error:  # noqa: BLE001 - an unreachable peer is a finding, not a failure
        return ServiceHealth(service=service, url="", status="unreachable", detail=f"{type(error).__name__}: {error}")


async def probe_all(peers: PeerClient) -> list[ServiceHealth]:
    return list(await asyncio.gather(*(probe(peers, name) for name in SERVICE_NAMES)))


async def key_figures(conn: AsyncConnection) -> KeyFigures:
    cur = conn.cursor(row_factory=dict_row)
    # Exact counts of tens of millions of events are slow; the planner's estimate is enough here.
    await cur.execute(
        """SELECT
             (SELECT count(*) FROM cases WHERE status = 'open') AS cases_open,
             (SELECT count(*) FROM live_sessions WHERE status = ANY(%(active)s)) AS lives_active,
             (SELECT count(*) FROM live_sessions) AS sessions_total,
             (SELECT coalesce(sum(events_count), 0) FROM live_sessions) AS events_total,
             (SELECT count(*) FROM subjects) AS subjects_total,
             (SELECT count(*) FROM profiles) AS profiles_total""",
        {"active": SessionStatus.active_values()},
    )
    row = await cur.fetchone()
    assert row is not None
    return KeyFigures(**row)
