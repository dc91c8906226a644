"""After a PostgreSQL restart no request fails on a connection the server closed (issue 9, item 5)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from scis.core.auth.models import Role, UserCreate
from scis.core.auth.service import create_user_sync
from scis.core.db import migrate
from scis.core.settings import Settings
from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.serve import load_app

POOL_SIZE = 3
PASSWORD = "pool-check-password-1"


@pytest.fixture
def restartable_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own, so restarting it disturbs no other test."""
    # Not pytest's tmp_path: other pytest runs reset its root to 0700, which locks out the server's own user.
    folder = tempfile.TemporaryDirectory(prefix="scis-pool-test-")
    Path(folder.name).chmod(0o755)
    server = EmbeddedPostgres(Path(folder.name) / "postgres", free_port(), Path(folder.name) / "postgres.log")
    server.start()
    try:
        migrate(server.url)
        with psycopg.connect(server.url, autocommit=True) as conn:
            create_user_sync(conn, user_in=UserCreate(username="pooled", password=PASSWORD, role=Role.viewer))
        yield server
    finally:
        server.stop()
        folder.cleanup()


async def wait_for_pool_size(app, size: int, within: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while app.state.pool.get_stats().get("pool_size", 0) < size:
        assert time.monotonic() < deadline, f"the pool never opened {size} connections"
        await asyncio.sleep(0.1)


async def test_every_pooled_connection_survives_a_postgres_restart(
    restartable_postgres: EmbeddedPostgres, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=restartable_postgres.url, redis_url=redis_url, home=tmp_path,
        db_pool_min=POOL_SIZE, db_pool_max=POOL_SIZE,
    )  # fmt: skip
    app = load_app("dashboard", settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dashboard", timeout=60) as client:
            await wait_for_pool_size(app, POOL_SIZE)
            before = await client.post("/api/auth/login", json={"username": "pooled", "password": PASSWORD})
            assert before.status_code == 200, before.text

            await asyncio.to_thread(restartable_postgres.stop)
            await asyncio.to_thread(restartable_postgres.start)

            # The pool hands connections out in turn: twice its size reaches every one it held. Each login
            # is a fresh sign-in: a request carrying the session cookie would be a cookie-signed write,
            # refused without a browser's Origin (decision 308), which is not what this test is about.
            answers = []
            for _ in range(POOL_SIZE * 2):
                client.cookies.clear()
                answers.append(await client.post("/api/auth/login", json={"username": "pooled", "password": PASSWORD}))
            failed = [(a.status_code, a.text[:200]) for a in answers if a.status_code != 200]
            assert not failed, f"logins failed after the restart: {failed}"
            assert (await client.get("/readyz")).status_code == 200
