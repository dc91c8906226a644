"""The attack suite's fixtures: the services' fixtures (every app with its lifespan, accounts, tokens)
with settings of its own — TikTok pointed at a closed local port (nothing here may reach the
internet) and a public URL to check Origins against — and two cases: one the test accounts belong
to ("member") and one they do not ("outsider")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from scis.core.db import open_pool
from scis.core.settings import Settings
from scis.database.app import EXPLORER_CONNECTION_OPTIONS, reset_explorer_connection
from scis.embedded.ports import free_port
from tests.services.conftest import accounts, apps, clients, tokens
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


@pytest.fixture
async def explorer_pool(explorer_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """The explorer's own pool, configured as the database service configures it, with one connection:
    each query is sure to reuse the session the previous one left behind."""
    pool = open_pool(
        explorer_url,
        min_size=1,
        max_size=1,
        name="test-explorer",
        reset=reset_explorer_connection,
        connection_options=EXPLORER_CONNECTION_OPTIONS,
    )
    await pool.open(wait=True, timeout=30)
    yield pool
    await pool.close()
