"""The attack suite's fixtures: every service app against the session's PostgreSQL and Redis, with
TikTok pointed at a closed local port (nothing here may reach the internet), and two cases: one the
test accounts belong to ("member") and one they do not ("outsider")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from scis.core.settings import SERVICE_NAMES, Settings
from scis.embedded.ports import free_port
from scis.serve import load_app
from tests.services.conftest import accounts, tokens  # noqa: F401 - fixtures shared with tests/services
from tests.support.cases import make_case

__all__ = ["accounts", "tokens"]


@pytest.fixture(scope="session")
def settings(postgres_url: str, redis_url: str, test_home) -> Settings:  # type: ignore[no-untyped-def]
    offline = f"http://127.0.0.1:{free_port()}"
    return Settings(
        database_url=postgres_url, redis_url=redis_url, home=test_home, tiktok_base_url=offline,
        webcast_base_url=offline, public_url="https://scis.example.org",
    )  # fmt: skip


@pytest.fixture(scope="session")
def security_apps(settings: Settings) -> dict[str, FastAPI]:
    return {name: load_app(name, settings) for name in SERVICE_NAMES if name != "frontend"}


@pytest.fixture(scope="session")
async def security_clients(security_apps: dict[str, FastAPI]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    opened: dict[str, httpx.AsyncClient] = {}
    contexts = []
    for name, app in security_apps.items():
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        contexts.append(context)
        opened[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", timeout=60)
    yield opened
    for client in opened.values():
        await client.aclose()
    for context in reversed(contexts):
        await context.__aexit__(None, None, None)


@pytest.fixture(scope="session")
def member_case(postgres_url: str, accounts: dict[str, str]) -> int:  # noqa: F811
    return make_case(
        postgres_url, created_by=accounts["investigator"], members=[accounts["investigator"], accounts["viewer"]]
    )


@pytest.fixture(scope="session")
def outsider_case(postgres_url: str, accounts: dict[str, str]) -> int:  # noqa: F811
    return make_case(postgres_url, created_by=accounts["admin"], members=[])
