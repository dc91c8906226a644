"""Every service app, running its real lifespan against the session's PostgreSQL and Redis."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from scis.core import bus
from scis.core.auth.models import Role, User, UserCreate
from scis.core.auth.service import UserExists, create_user_sync
from scis.core.auth.sessions import sign_in
from scis.core.settings import SERVICE_NAMES, Settings
from scis.serve import load_app

API_SERVICES = [name for name in SERVICE_NAMES if name != "frontend"]
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def settings(postgres_url: str, explorer_url: str, redis_url: str, test_home) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(database_url=postgres_url, explorer_database_url=explorer_url, redis_url=redis_url, home=test_home)


@pytest.fixture(scope="session")
def accounts(postgres_url: str) -> Iterator[dict[str, str]]:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for role in Role:
            with contextlib.suppress(UserExists):
                create_user_sync(conn, user_in=UserCreate(username=f"t-{role.value}", password=PASSWORD, role=role))
    yield {role.value: f"t-{role.value}" for role in Role}


async def session_token(settings: Settings, username: str, ttl_seconds: int = 3600) -> str:
    """A token of a real server-side session for an existing account, as POST /api/auth/login makes."""
    client = bus.connect(settings.redis_url or "")
    try:
        with psycopg.connect(settings.database_url or "") as conn:
            row = conn.execute("SELECT id, role FROM users WHERE username = %s", (username,)).fetchone()
        assert row is not None, f"no account {username!r}"
        user = User(username=username, role=Role(row[1]))
        token = await sign_in(client, user_id=row[0], user=user, secret=settings.secret_key, ttl_seconds=ttl_seconds)
        return token.access_token
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
async def tokens(settings: Settings, accounts: dict[str, str]) -> dict[str, str]:
    return {role: await session_token(settings, name) for role, name in accounts.items()}


@pytest.fixture(scope="session")
def apps(settings: Settings) -> dict[str, FastAPI]:
    return {name: load_app(name, settings) for name in SERVICE_NAMES}


@pytest.fixture(scope="session")
async def clients(apps: dict[str, FastAPI]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One client per service, talking to its app in-process with the lifespan started."""
    opened: dict[str, httpx.AsyncClient] = {}
    contexts = []
    for name, app in apps.items():
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        contexts.append(context)
        opened[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
    yield opened
    for client in opened.values():
        await client.aclose()
    for context in reversed(contexts):
        await context.__aexit__(None, None, None)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
