"""Gauges of the sessions the store lists as active, refreshed when /metrics is scraped.

A capture's own gauges vanish with its process; these come from PostgreSQL, so a session left
`live` by a capture that died (abandoned) still shows, as open and stale.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Gauge

from scis.lives.service import open_sessions

# A live TikTok room sends viewer counts every few seconds; ten silent minutes mean nobody captures it.
STALE_AFTER_SECONDS = 600

SESSIONS_OPEN = Gauge("scis_sessions_open", "Sessions the store lists as active.")
SESSIONS_STALE = Gauge(
    "scis_sessions_stale",
    f"Sessions listed as active whose newest record is older than {STALE_AFTER_SECONDS} s (abandoned captures).",
)


async def refresh(app: FastAPI) -> None:
    async with app.state.pool.connection() as conn:
        sessions = await open_sessions(conn)
    SESSIONS_OPEN.set(len(sessions))
    SESSIONS_STALE.set(sum(1 for s in sessions if s.idle_seconds > STALE_AFTER_SECONDS))


async def register(app: FastAPI) -> None:
    """Startup hook: refresh these gauges on every scrape of this service."""
    app.state.metrics_refreshers = [*getattr(app.state, "metrics_refreshers", []), refresh]
