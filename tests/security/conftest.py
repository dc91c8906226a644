"""The attack suite's fixtures: the services' fixtures (every app with its lifespan, accounts, tokens)
with settings of its own — TikTok pointed at a closed local port (nothing here may reach the
internet) and a public URL to check Origins against — and two cases: one the test accounts belong
to ("member") and one they do not ("outsider")."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from scis.core.auth.models import Role, UserCreate
from scis.core.auth.service import UserExists, create_user_sync
from scis.core.db import open_pool
from scis.core.settings import Settings
from scis.database.app import EXPLORER_CONNECTION_OPTIONS, reset_explorer_connection
from scis.embedded.ports import free_port
from scis.embedded.postgres import EmbeddedPostgres
from scis.serve import load_app
from tests.services.conftest import PASSWORD, accounts, apps, clients, session_token, tokens
from tests.support.cases import make_case

__all__ = ["accounts", "apps", "clients", "tokens"]  # fixtures shared with tests/services


@pytest.fixture(scope="session")
def settings(postgres_url: str, explorer_url: str, redis_url: str, test_home) -> Settings:  # type: ignore[no-untyped-def]
    offline = f"http://127.0.0.1:{free_port()}"
    return Settings(
        database_url=postgres_url, explorer_database_url=explorer_url, redis_url=redis_url, home=test_home,
        tiktok_base_url=offline, webcast_base_url=offline, public_url="https://scis.example.org",
    )  # fmt: skip


@pytest.fixture(scope="session")
def api_apps(apps: dict[str, FastAPI]) -> dict[str, FastAPI]:
    """The apps that publish an API (all but the frontend)."""
    return {name: app for name, app in apps.items() if app.openapi_url}


@pytest.fixture(scope="session")
def member_case(postgres_url: str, accounts: dict[str, str]) -> int:  # noqa: F811
    return make_case(
        postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"], accounts["viewer"]]
    )


@pytest.fixture(scope="session")
def outsider_case(postgres_url: str, accounts: dict[str, str]) -> int:  # noqa: F811
    return make_case(postgres_url, created_by=accounts["admin"], members=[])


@contextlib.asynccontextmanager
async def one_connection_explorer_pool(url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """The explorer's own pool, configured as the database service configures it, with one connection:
    each query is sure to reuse the session the previous one left behind."""
    pool = open_pool(
        url,
        min_size=1,
        max_size=1,
        name="test-explorer",
        reset=reset_explorer_connection,
        connection_options=EXPLORER_CONNECTION_OPTIONS,
    )
    await pool.open(wait=True, timeout=30)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def explorer_pool(explorer_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with one_connection_explorer_pool(explorer_url) as pool:
        yield pool


@dataclass(frozen=True)
class QuietDatabase:
    """A PostgreSQL server of its own, written by nothing but the test using it, with the database
    service running on it and a viewer signed in."""

    superuser_url: str
    app_url: str
    explorer_url: str
    client: httpx.AsyncClient
    viewer_token: str


@pytest.fixture(scope="module")
def quiet_server() -> Iterator[EmbeddedPostgres]:
    """The attack snapshots compare the whole cluster (roles, settings, every table and sequence):
    the session's shared server is written in the background by other tests' services (the profiles
    enricher, capture reapers), so the attacks get a server nobody else touches."""
    with tempfile.TemporaryDirectory(prefix="scis-quiet-") as folder:
        home = Path(folder)
        home.chmod(0o755)
        server = EmbeddedPostgres(home / "postgres", free_port(), home / "postgres.log")
        server.start()
        try:
            server.migrate()
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
async def quiet_database(quiet_server: EmbeddedPostgres, redis_url: str) -> AsyncIterator[QuietDatabase]:
    with tempfile.TemporaryDirectory(prefix="scis-quiet-home-") as home:
        settings = Settings(
            database_url=quiet_server.url, explorer_database_url=quiet_server.explorer_url,
            redis_url=redis_url, home=Path(home), public_url="https://scis.example.org",
        )  # fmt: skip
        with psycopg.connect(quiet_server.url, autocommit=True) as conn, contextlib.suppress(UserExists):
            create_user_sync(conn, user_in=UserCreate(username="t-viewer", password=PASSWORD, role=Role.viewer))
        app = load_app("database", settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://database") as client:
                yield QuietDatabase(
                    superuser_url=quiet_server.superuser_url,
                    app_url=quiet_server.url,
                    explorer_url=quiet_server.explorer_url,
                    client=client,
                    viewer_token=await session_token(settings, "t-viewer"),
                )
