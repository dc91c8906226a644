"""Server-side sessions: sign-out, disabling, role and password changes end every session at once,
over REST and over Socket.IO; the role in force is the session's, never the token's claim.

Each test uses accounts of its own so revoking them never touches the shared test accounts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
import redis.asyncio
import socketio

from scis.core.auth.models import Role, User, UserCreate
from scis.core.auth.service import create_user_sync, issue_token
from scis.core.auth.sessions import open_session
from scis.core.settings import Settings
from tests.security.login_support import forget_login_failures
from tests.services.conftest import auth, session_token
from tests.support.served import served_service

__all__ = ["forget_login_failures"]

PASSWORD = "a-long-and-uncommon-passphrase"
DEADLINE_SECONDS = 30.0


def new_account(postgres_url: str, role: Role = Role.investigator) -> str:
    name = f"s-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        create_user_sync(conn, user_in=UserCreate(username=name, password=PASSWORD, role=role))
    return name


async def sign_in(dashboard: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    response = await dashboard.post("/api/auth/login", json={"username": username, "password": password})
    # The shared client must not keep this session's cookie: other tests sign in by bearer token.
    dashboard.cookies.clear()
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def me(dashboard: httpx.AsyncClient, token: str) -> httpx.Response:
    return await dashboard.get("/api/auth/me", headers=auth(token))


async def test_sign_out_ends_every_session_of_the_user(
    clients: dict[str, httpx.AsyncClient], postgres_url: str
) -> None:
    dashboard, name = clients["dashboard"], new_account(postgres_url)
    laptop, phone = await sign_in(dashboard, name), await sign_in(dashboard, name)
    assert (await me(dashboard, laptop)).status_code == 200 and (await me(dashboard, phone)).status_code == 200
    assert (await dashboard.post("/api/auth/logout", headers=auth(laptop))).status_code == 204
    for token in (laptop, phone):
        refused = await me(dashboard, token)
        assert refused.status_code == 401
        assert "session has ended" in refused.json()["detail"]
    # Every other service refuses it too: they all read the same sessions.
    assert (await clients["profiles"].get("/api/profiles/profiles", headers=auth(phone))).status_code == 401


async def test_disabling_ends_sessions_and_refuses_sign_in_like_a_wrong_password(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    dashboard, name = clients["dashboard"], new_account(postgres_url)
    token = await sign_in(dashboard, name)
    disabled = await dashboard.post(f"/api/auth/users/{name}/disable", headers=auth(tokens["admin"]))
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert (await me(dashboard, token)).status_code == 401
    refused = await dashboard.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    wrong = await dashboard.post("/api/auth/login", json={"username": name, "password": "not-the-password"})
    dashboard.cookies.clear()
    assert refused.status_code == wrong.status_code == 401
    assert refused.json() == wrong.json()
    enabled = await dashboard.post(f"/api/auth/users/{name}/enable", headers=auth(tokens["admin"]))
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    assert (await me(dashboard, await sign_in(dashboard, name))).status_code == 200


async def test_demotion_ends_sessions_and_the_new_role_applies(
    clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    dashboard, name = clients["dashboard"], new_account(postgres_url, Role.admin)
    token = await sign_in(dashboard, name)
    assert (await dashboard.get("/api/auth/users", headers=auth(token))).status_code == 200
    demoted = await dashboard.put(
        f"/api/auth/users/{name}/role", json={"role": "viewer"}, headers=auth(tokens["admin"])
    )
    assert demoted.status_code == 200 and demoted.json()["role"] == "viewer"
    assert (await dashboard.get("/api/auth/users", headers=auth(token))).status_code == 401
    again = await sign_in(dashboard, name)
    assert (await me(dashboard, again)).json()["role"] == "viewer"
    assert (await dashboard.get("/api/auth/users", headers=auth(again))).status_code == 403


async def test_the_role_in_force_is_the_sessions_not_the_tokens_claim(
    clients: dict[str, httpx.AsyncClient], settings: Settings, postgres_url: str
) -> None:
    name = new_account(postgres_url, Role.viewer)
    client = redis.asyncio.Redis.from_url(settings.redis_url or "")
    session_id = await open_session(client, user_id=0, user=User(username=name, role=Role.viewer), ttl_seconds=60)
    await client.aclose()
    # Signed with the real key, claiming admin: the session still says viewer.
    claimed = issue_token(
        User(username=name, role=Role.admin), secret=settings.secret_key, ttl_seconds=60, session_id=session_id
    )
    dashboard = clients["dashboard"]
    assert (await me(dashboard, claimed.access_token)).json()["role"] == "viewer"
    assert (await dashboard.get("/api/auth/users", headers=auth(claimed.access_token))).status_code == 403
    # Another user's session id in a token for this user is refused.
    other = issue_token(User(username="t-admin", role=Role.admin), secret=settings.secret_key, ttl_seconds=60,
                        session_id=session_id)  # fmt: skip
    assert (await me(dashboard, other.access_token)).status_code == 401


async def test_a_token_without_a_session_is_refused(
    clients: dict[str, httpx.AsyncClient], settings: Settings, accounts: dict[str, str]
) -> None:
    bare = issue_token(User(username=accounts["admin"], role=Role.admin), secret=settings.secret_key, ttl_seconds=60)
    refused = await me(clients["dashboard"], bare.access_token)
    assert refused.status_code == 401 and "no session id" in refused.json()["detail"]


async def test_a_password_change_ends_every_session(clients: dict[str, httpx.AsyncClient], postgres_url: str) -> None:
    dashboard, name = clients["dashboard"], new_account(postgres_url)
    token, other = await sign_in(dashboard, name), await sign_in(dashboard, name)
    wrong = await dashboard.post(
        "/api/auth/password",
        json={"current_password": "not-it-at-all", "new_password": "another-long-passphrase"},
        headers=auth(token),
    )
    assert wrong.status_code == 400 and "current_password does not match" in wrong.json()["detail"]
    common = await dashboard.post(
        "/api/auth/password", json={"current_password": PASSWORD, "new_password": "password1234"}, headers=auth(token)
    )
    assert common.status_code == 422 and common.json()["errors"][0]["field"] == "new_password"
    assert (await me(dashboard, token)).status_code == 200  # refused changes end nothing
    changed = await dashboard.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "another-long-passphrase"},
        headers=auth(token),
    )
    assert changed.status_code == 204, changed.text
    assert (await me(dashboard, token)).status_code == 401 and (await me(dashboard, other)).status_code == 401
    old = await dashboard.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    dashboard.cookies.clear()
    assert old.status_code == 401
    assert (await me(dashboard, await sign_in(dashboard, name, "another-long-passphrase"))).status_code == 200


@pytest.fixture
async def analyser(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """The analyser over real HTTP, sweeping for expired sessions every 0.2 s."""
    async with served_service(
        "analyser", settings.model_copy(update={"home": tmp_path, "socket_session_check_seconds": 0.2})
    ) as url:
        yield url


async def connected_socket(base: str, token: str) -> tuple[socketio.AsyncClient, asyncio.Event]:
    # No reconnection: a revoked client must stay out, and the test must see it go.
    sio = socketio.AsyncClient(reconnection=False)
    gone = asyncio.Event()
    sio.on("disconnect", lambda *_: gone.set())
    await sio.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=DEADLINE_SECONDS)
    return sio, gone


async def test_sign_out_disconnects_open_sockets(
    analyser: str, clients: dict[str, httpx.AsyncClient], postgres_url: str
) -> None:
    dashboard, name = clients["dashboard"], new_account(postgres_url)
    token, bystander = await sign_in(dashboard, name), await sign_in(dashboard, new_account(postgres_url))
    sio, gone = await connected_socket(analyser, token)
    other, other_gone = await connected_socket(analyser, bystander)
    try:
        assert (await dashboard.post("/api/auth/logout", headers=auth(token))).status_code == 204
        await asyncio.wait_for(gone.wait(), DEADLINE_SECONDS)
        assert not other_gone.is_set() and other.connected  # only the revoked user's sockets go
        with pytest.raises(socketio.exceptions.ConnectionError):
            await socketio.AsyncClient(reconnection=False).connect(
                analyser, auth={"token": token}, transports=["websocket"]
            )
    finally:
        await sio.disconnect()
        await other.disconnect()


async def test_disabling_disconnects_open_sockets(
    analyser: str, clients: dict[str, httpx.AsyncClient], tokens: dict[str, str], postgres_url: str
) -> None:
    dashboard, name = clients["dashboard"], new_account(postgres_url)
    sio, gone = await connected_socket(analyser, await sign_in(dashboard, name))
    try:
        response = await dashboard.post(f"/api/auth/users/{name}/disable", headers=auth(tokens["admin"]))
        assert response.status_code == 200
        await asyncio.wait_for(gone.wait(), DEADLINE_SECONDS)
    finally:
        await sio.disconnect()


async def test_an_expired_session_is_disconnected(analyser: str, settings: Settings, postgres_url: str) -> None:
    token = await session_token(settings, new_account(postgres_url), ttl_seconds=3)
    sio, gone = await connected_socket(analyser, token)
    try:
        await asyncio.wait_for(gone.wait(), DEADLINE_SECONDS)
    finally:
        await sio.disconnect()
