"""Password guessing: failed sign-ins are audited and locked out per account name and per address,
the same way whether or not the account exists, with a message saying when to retry."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from scis.core.auth.models import Role, UserCreate
from scis.core.auth.service import create_user_sync
from tests.security.login_support import forget_login_failures

__all__ = ["forget_login_failures"]
PASSWORD = "a-long-and-uncommon-passphrase"
ACCOUNT_LIMIT = 5  # SCIS_LOGIN_MAX_FAILURES default
ADDRESS_LIMIT = 20  # SCIS_LOGIN_ADDRESS_MAX_FAILURES default


def failed_logins(postgres_url: str, name: str) -> list[tuple[str, str | None, dict[str, str]]]:
    with psycopg.connect(postgres_url) as conn:
        return conn.execute(  # type: ignore[return-value]
            "SELECT actor, role, details FROM audit_log WHERE action = 'auth.login_failed' AND target = %s ORDER BY id",
            (f"user:{name}",),
        ).fetchall()


async def attempt(client: httpx.AsyncClient, name: str, password: str, address: str) -> httpx.Response:
    response = await client.post(
        "/api/auth/login", json={"username": name, "password": password}, headers={"x-real-ip": address}
    )
    client.cookies.clear()  # the shared client must not keep a session cookie
    return response


def new_address() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


@pytest.mark.parametrize("exists", [True, False], ids=["existing", "unknown"])
async def test_an_account_name_is_locked_after_repeated_failures(
    exists: bool, clients: dict[str, httpx.AsyncClient], postgres_url: str
) -> None:
    dashboard, name = clients["dashboard"], f"g-{uuid.uuid4().hex[:10]}"
    if exists:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            create_user_sync(conn, user_in=UserCreate(username=name, password=PASSWORD, role=Role.viewer))
    for _ in range(ACCOUNT_LIMIT - 1):
        response = await attempt(dashboard, name, "wrong-guess-123", new_address())
        assert response.status_code == 401 and response.json()["detail"] == "wrong username or password"
    locking = await attempt(dashboard, name, "wrong-guess-123", new_address())
    assert locking.status_code == 429
    # Locked: even the right password is refused, from any address, with when to retry.
    locked = await attempt(dashboard, name, PASSWORD, new_address())
    assert locked.status_code == 429
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= 300
    assert "this account name" in locked.json()["detail"] and "try again after" in locked.json()["detail"]
    audited = failed_logins(postgres_url, name)
    assert len(audited) == ACCOUNT_LIMIT + 1
    assert {(actor, role) for actor, role, _ in audited} == {("anonymous", None)}
    assert [details["reason"] for _, _, details in audited] == ["wrong_credentials"] * ACCOUNT_LIMIT + ["locked_out"]


async def test_existing_and_unknown_names_get_the_same_answers(clients: dict[str, httpx.AsyncClient]) -> None:
    dashboard = clients["dashboard"]
    known = await attempt(dashboard, "t-viewer", "wrong-guess-123", new_address())
    unknown = await attempt(dashboard, f"nobody-{uuid.uuid4().hex[:8]}", "wrong-guess-123", new_address())
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())


async def test_an_address_is_locked_after_failures_across_names(
    clients: dict[str, httpx.AsyncClient], postgres_url: str
) -> None:
    dashboard, address = clients["dashboard"], "203.0.113.99"
    for number in range(ADDRESS_LIMIT - 1):
        response = await attempt(dashboard, f"spray-{number}-{uuid.uuid4().hex[:6]}", "wrong-guess-123", address)
        assert response.status_code == 401
    locking = await attempt(dashboard, f"spray-last-{uuid.uuid4().hex[:6]}", "wrong-guess-123", address)
    assert locking.status_code == 429 and "your address" in locking.json()["detail"]
    assert (await attempt(dashboard, "t-viewer", "correct-horse-battery", address)).status_code == 429


async def test_a_successful_sign_in_forgets_earlier_failures(
    clients: dict[str, httpx.AsyncClient], postgres_url: str
) -> None:
    dashboard, name = clients["dashboard"], f"g-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        create_user_sync(conn, user_in=UserCreate(username=name, password=PASSWORD, role=Role.viewer))
    for _ in range(2):
        for _ in range(ACCOUNT_LIMIT - 1):
            assert (await attempt(dashboard, name, "wrong-guess-123", new_address())).status_code == 401
        assert (await attempt(dashboard, name, PASSWORD, new_address())).status_code == 200
